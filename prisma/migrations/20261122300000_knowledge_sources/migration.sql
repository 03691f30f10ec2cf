-- Knowledge sources (SharePoint drives or folders) with their persisted sync state.

-- CreateTable
CREATE TABLE `KnowledgeSource` (
    `id` CHAR(36) NOT NULL,
    `workspaceId` CHAR(36) NOT NULL,
    `kind` VARCHAR(32) NOT NULL,
    `driveId` VARCHAR(255) NOT NULL,
    `folderId` VARCHAR(255) NULL,
    `displayName` VARCHAR(512) NOT NULL,
    `schedule` VARCHAR(16) NOT NULL,
    `state` JSON NULL,
    `lastSyncAt` DATETIME(3) NULL,
    `nextSyncAt` DATETIME(3) NULL,
    `createdByUserId` CHAR(36) NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updatedAt` DATETIME(3) NOT NULL,

    INDEX `KnowledgeSource_nextSyncAt_idx`(`nextSyncAt`),
    UNIQUE INDEX `KnowledgeSource_workspaceId_driveId_key`(`workspaceId`, `driveId`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `KnowledgeSource` ADD CONSTRAINT `KnowledgeSource_workspaceId_fkey` FOREIGN KEY (`workspaceId`) REFERENCES `Workspace`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
