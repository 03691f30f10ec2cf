-- Per-workspace retention policy: periods in days; NULL = no period (kept / clean-up off).

-- CreateTable
CREATE TABLE `RetentionPolicy` (
    `workspaceId` CHAR(36) NOT NULL,
    `conversationDays` INTEGER NULL,
    `uploadedFileDays` INTEGER NOT NULL,
    `loginLogDays` INTEGER NOT NULL,
    `inactiveConversationDays` INTEGER NULL,
    `updatedByUserId` CHAR(36) NULL,
    `updatedAt` DATETIME(3) NOT NULL,

    PRIMARY KEY (`workspaceId`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `RetentionPolicy` ADD CONSTRAINT `RetentionPolicy_workspaceId_fkey` FOREIGN KEY (`workspaceId`) REFERENCES `Workspace`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
