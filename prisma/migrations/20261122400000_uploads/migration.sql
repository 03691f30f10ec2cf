-- Uploaded files: the record of each (the bytes live encrypted in the blob store).

-- CreateTable
CREATE TABLE `Upload` (
    `id` CHAR(36) NOT NULL,
    `workspaceId` CHAR(36) NOT NULL,
    `fileName` VARCHAR(255) NOT NULL,
    `mimeType` VARCHAR(128) NOT NULL,
    `kind` VARCHAR(16) NOT NULL,
    `sizeBytes` INTEGER NOT NULL,
    `contentHash` CHAR(64) NOT NULL,
    `indexStatus` VARCHAR(16) NOT NULL,
    `documentId` CHAR(36) NULL,
    `uploadedByUserId` CHAR(36) NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),

    INDEX `Upload_workspaceId_createdAt_idx`(`workspaceId`, `createdAt`),
    UNIQUE INDEX `Upload_workspaceId_id_key`(`workspaceId`, `id`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `Upload` ADD CONSTRAINT `Upload_workspaceId_fkey` FOREIGN KEY (`workspaceId`) REFERENCES `Workspace`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
