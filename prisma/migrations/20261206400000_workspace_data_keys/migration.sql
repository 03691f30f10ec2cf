-- Per-workspace data keys (envelope encryption): the data key only ever stored wrapped by the
-- key-encryption key named in kekId; wrappedKey is NULL once the key is destroyed (crypto-shredding).

-- CreateTable
CREATE TABLE `WorkspaceDataKey` (
    `workspaceId` CHAR(36) NOT NULL,
    `wrappedKey` VARBINARY(255) NULL,
    `kekId` VARCHAR(191) NOT NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `destroyedAt` DATETIME(3) NULL,

    PRIMARY KEY (`workspaceId`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `WorkspaceDataKey` ADD CONSTRAINT `WorkspaceDataKey_workspaceId_fkey` FOREIGN KEY (`workspaceId`) REFERENCES `Workspace`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
