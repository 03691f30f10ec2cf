-- Erasure jobs: resumable, step by step, kept as the minimal record of the erasure (ids only).
-- No foreign key: the row outlives the workspace data it erased.

-- CreateTable
CREATE TABLE `ErasureJob` (
    `id` CHAR(36) NOT NULL,
    `workspaceId` CHAR(36) NOT NULL,
    `tenantId` VARCHAR(64) NOT NULL,
    `scopeKind` VARCHAR(16) NOT NULL,
    `targetId` CHAR(36) NULL,
    `plan` JSON NOT NULL,
    `requestedByUserId` CHAR(36) NULL,
    `reason` VARCHAR(16) NOT NULL,
    `status` VARCHAR(16) NOT NULL,
    `steps` JSON NOT NULL,
    `residue` JSON NULL,
    `activeKey` VARCHAR(128) NULL,
    `attempts` INTEGER NOT NULL DEFAULT 0,
    `lastError` VARCHAR(1024) NULL,
    `requestedAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `finishedAt` DATETIME(3) NULL,
    `updatedAt` DATETIME(3) NOT NULL,

    UNIQUE INDEX `ErasureJob_activeKey_key`(`activeKey`),
    INDEX `ErasureJob_workspaceId_requestedAt_idx`(`workspaceId`, `requestedAt`),
    INDEX `ErasureJob_status_idx`(`status`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
