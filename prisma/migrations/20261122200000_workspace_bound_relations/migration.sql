-- Children can only point at a parent in their own workspace: the foreign keys from messages to
-- conversations, and from memberships, credentials, sessions and reset tokens to users, now
-- include workspaceId. (Conversation.userId stays single-column: ON DELETE SET NULL cannot null
-- the NOT NULL workspaceId of a composite key.)

-- CreateIndex
CREATE UNIQUE INDEX `User_workspaceId_id_key` ON `User`(`workspaceId`, `id`);

-- CreateIndex
CREATE UNIQUE INDEX `Conversation_workspaceId_id_key` ON `Conversation`(`workspaceId`, `id`);

-- CreateIndex
CREATE UNIQUE INDEX `Credential_workspaceId_userId_key` ON `Credential`(`workspaceId`, `userId`);

-- CreateIndex
CREATE INDEX `PasswordResetToken_workspaceId_userId_idx` ON `PasswordResetToken`(`workspaceId`, `userId`);

-- DropForeignKey
ALTER TABLE `Membership` DROP FOREIGN KEY `Membership_userId_fkey`;

-- DropForeignKey
ALTER TABLE `Message` DROP FOREIGN KEY `Message_conversationId_fkey`;

-- DropForeignKey
ALTER TABLE `Credential` DROP FOREIGN KEY `Credential_userId_fkey`;

-- DropForeignKey
ALTER TABLE `Session` DROP FOREIGN KEY `Session_userId_fkey`;

-- DropForeignKey
ALTER TABLE `PasswordResetToken` DROP FOREIGN KEY `PasswordResetToken_userId_fkey`;

-- DropIndex
DROP INDEX `Credential_workspaceId_idx` ON `Credential`;

-- DropIndex
DROP INDEX `PasswordResetToken_workspaceId_idx` ON `PasswordResetToken`;

-- AddForeignKey
ALTER TABLE `Membership` ADD CONSTRAINT `Membership_workspaceId_userId_fkey` FOREIGN KEY (`workspaceId`, `userId`) REFERENCES `User`(`workspaceId`, `id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `Message` ADD CONSTRAINT `Message_workspaceId_conversationId_fkey` FOREIGN KEY (`workspaceId`, `conversationId`) REFERENCES `Conversation`(`workspaceId`, `id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `Credential` ADD CONSTRAINT `Credential_workspaceId_userId_fkey` FOREIGN KEY (`workspaceId`, `userId`) REFERENCES `User`(`workspaceId`, `id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `Session` ADD CONSTRAINT `Session_workspaceId_userId_fkey` FOREIGN KEY (`workspaceId`, `userId`) REFERENCES `User`(`workspaceId`, `id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `PasswordResetToken` ADD CONSTRAINT `PasswordResetToken_workspaceId_userId_fkey` FOREIGN KEY (`workspaceId`, `userId`) REFERENCES `User`(`workspaceId`, `id`) ON DELETE CASCADE ON UPDATE CASCADE;
