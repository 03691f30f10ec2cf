-- Per-workspace assistant settings: administrator instructions and data-minimisation limits.

-- CreateTable
CREATE TABLE `WorkspaceAssistantSettings` (
    `workspaceId` CHAR(36) NOT NULL,
    `instructions` TEXT NULL,
    `maxTurns` INTEGER NOT NULL,
    `maxTurnChars` INTEGER NOT NULL,
    `maxPassages` INTEGER NOT NULL,
    `maxPassageChars` INTEGER NOT NULL,
    `updatedByUserId` CHAR(36) NULL,
    `updatedAt` DATETIME(3) NOT NULL,

    PRIMARY KEY (`workspaceId`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `WorkspaceAssistantSettings` ADD CONSTRAINT `WorkspaceAssistantSettings_workspaceId_fkey` FOREIGN KEY (`workspaceId`) REFERENCES `Workspace`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
