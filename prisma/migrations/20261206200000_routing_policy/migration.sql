-- Per-workspace routing policy of the assistant: default provider, allowed providers, rules, models (JSON).

-- CreateTable
CREATE TABLE `WorkspaceRoutingPolicy` (
    `workspaceId` CHAR(36) NOT NULL,
    `policy` JSON NOT NULL,
    `updatedByUserId` CHAR(36) NULL,
    `updatedAt` DATETIME(3) NOT NULL,

    PRIMARY KEY (`workspaceId`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `WorkspaceRoutingPolicy` ADD CONSTRAINT `WorkspaceRoutingPolicy_workspaceId_fkey` FOREIGN KEY (`workspaceId`) REFERENCES `Workspace`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
