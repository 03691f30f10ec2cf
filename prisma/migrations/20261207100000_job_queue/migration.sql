-- The database job queue: background jobs and recurring schedules shared by all replicas when no
-- Redis is configured. Operational tables, not tenant-owned: payloads hold ids only.

-- CreateTable
CREATE TABLE `QueueJob` (
    `id` CHAR(36) NOT NULL,
    `kind` VARCHAR(64) NOT NULL,
    `payload` JSON NOT NULL,
    `status` ENUM('queued', 'running', 'succeeded', 'failed') NOT NULL DEFAULT 'queued',
    `dedupeKey` VARCHAR(191) NULL,
    `attempts` INTEGER NOT NULL DEFAULT 0,
    `maxAttempts` INTEGER NOT NULL,
    `runAfter` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `scheduledFor` DATETIME(3) NULL,
    `lockedBy` VARCHAR(128) NULL,
    `lockedUntil` DATETIME(3) NULL,
    `lastError` TEXT NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updatedAt` DATETIME(3) NOT NULL,

    UNIQUE INDEX `QueueJob_dedupeKey_key`(`dedupeKey`),
    INDEX `QueueJob_kind_status_runAfter_idx`(`kind`, `status`, `runAfter`),
    INDEX `QueueJob_kind_status_lockedUntil_idx`(`kind`, `status`, `lockedUntil`),
    INDEX `QueueJob_status_updatedAt_idx`(`status`, `updatedAt`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `QueueSchedule` (
    `name` VARCHAR(128) NOT NULL,
    `kind` VARCHAR(64) NOT NULL,
    `payload` JSON NOT NULL,
    `everyMs` INTEGER NOT NULL,
    `nextRunAt` DATETIME(3) NOT NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updatedAt` DATETIME(3) NOT NULL,

    PRIMARY KEY (`name`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
