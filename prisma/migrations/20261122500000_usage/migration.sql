-- Usage metering (per workspace, user, UTC day, provider and model), a monthly budget per
-- workspace, and feedback (thumbs up/down) on assistant answers.

-- CreateTable
CREATE TABLE `UsageDaily` (
    `id` CHAR(36) NOT NULL,
    `workspaceId` CHAR(36) NOT NULL,
    `userId` CHAR(36) NOT NULL,
    `day` DATE NOT NULL,
    `provider` VARCHAR(32) NOT NULL,
    `model` VARCHAR(100) NOT NULL,
    `calls` INTEGER NOT NULL DEFAULT 0,
    `failedCalls` INTEGER NOT NULL DEFAULT 0,
    `refusedCalls` INTEGER NOT NULL DEFAULT 0,
    `inputTokens` BIGINT NOT NULL DEFAULT 0,
    `outputTokens` BIGINT NOT NULL DEFAULT 0,
    `latencyMsTotal` BIGINT NOT NULL DEFAULT 0,
    `costMicros` BIGINT NOT NULL DEFAULT 0,
    `unpricedCalls` INTEGER NOT NULL DEFAULT 0,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updatedAt` DATETIME(3) NOT NULL,

    INDEX `UsageDaily_workspaceId_day_idx`(`workspaceId`, `day`),
    UNIQUE INDEX `UsageDaily_workspaceId_userId_day_provider_model_key`(`workspaceId`, `userId`, `day`, `provider`, `model`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `UsageBudget` (
    `workspaceId` CHAR(36) NOT NULL,
    `monthlyLimitCents` INTEGER NULL,
    `updatedByUserId` CHAR(36) NULL,
    `updatedAt` DATETIME(3) NOT NULL,

    PRIMARY KEY (`workspaceId`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `MessageFeedback` (
    `id` CHAR(36) NOT NULL,
    `workspaceId` CHAR(36) NOT NULL,
    `messageId` CHAR(36) NOT NULL,
    `userId` CHAR(36) NOT NULL,
    `reaction` ENUM('like', 'dislike') NOT NULL,
    `comment` TEXT NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updatedAt` DATETIME(3) NOT NULL,

    INDEX `MessageFeedback_messageId_idx`(`messageId`),
    INDEX `MessageFeedback_workspaceId_userId_idx`(`workspaceId`, `userId`),
    INDEX `MessageFeedback_workspaceId_reaction_createdAt_idx`(`workspaceId`, `reaction`, `createdAt`),
    UNIQUE INDEX `MessageFeedback_workspaceId_messageId_key`(`workspaceId`, `messageId`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `UsageDaily` ADD CONSTRAINT `UsageDaily_workspaceId_fkey` FOREIGN KEY (`workspaceId`) REFERENCES `Workspace`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `UsageDaily` ADD CONSTRAINT `UsageDaily_workspaceId_userId_fkey` FOREIGN KEY (`workspaceId`, `userId`) REFERENCES `User`(`workspaceId`, `id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `UsageBudget` ADD CONSTRAINT `UsageBudget_workspaceId_fkey` FOREIGN KEY (`workspaceId`) REFERENCES `Workspace`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `MessageFeedback` ADD CONSTRAINT `MessageFeedback_workspaceId_fkey` FOREIGN KEY (`workspaceId`) REFERENCES `Workspace`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `MessageFeedback` ADD CONSTRAINT `MessageFeedback_messageId_fkey` FOREIGN KEY (`messageId`) REFERENCES `Message`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `MessageFeedback` ADD CONSTRAINT `MessageFeedback_workspaceId_userId_fkey` FOREIGN KEY (`workspaceId`, `userId`) REFERENCES `User`(`workspaceId`, `id`) ON DELETE CASCADE ON UPDATE CASCADE;
