-- The channel's id of the reply that showed an answer (Teams: the bot's message activity id),
-- so Teams' feedback loop, which names that activity, finds the stored answer.

-- AlterTable
ALTER TABLE `Message` ADD COLUMN `replyActivityId` VARCHAR(128) NULL;

-- CreateIndex
CREATE INDEX `Message_workspaceId_replyActivityId_idx` ON `Message`(`workspaceId`, `replyActivityId`);
