-- Tamper-evident audit log: every workspace's events form a hash chain (seq, prevHash, hash; the IP
-- enters it as a salted digest, so the IP itself can be erased after the login log period), and
-- AuditChainHead holds the newest link (locked by each append) and the anchor left by pruning.
-- Existing events get their seq here, in the order they were written; their hashes are computed by
-- Kluis itself (the canonical serialisation lives in api/audit/chain.ts, not in SQL) on the first
-- append to that workspace after this migration, under the same lock as every append.

-- AlterTable
ALTER TABLE `AuditEvent` ADD COLUMN `ipSalt` CHAR(32) NULL,
    ADD COLUMN `ipDigest` CHAR(64) NULL,
    ADD COLUMN `seq` INTEGER NULL,
    ADD COLUMN `prevHash` CHAR(64) NULL,
    ADD COLUMN `hash` CHAR(64) NULL;

-- Backfill: number existing events per workspace by (createdAt, id).
UPDATE `AuditEvent` AS e
  JOIN (SELECT `id`, ROW_NUMBER() OVER (PARTITION BY `workspaceId` ORDER BY `createdAt`, `id`) AS n FROM `AuditEvent`) AS numbered ON numbered.`id` = e.`id`
  SET e.`seq` = numbered.n;

ALTER TABLE `AuditEvent` MODIFY `seq` INTEGER NOT NULL;

-- CreateIndex
CREATE UNIQUE INDEX `AuditEvent_workspaceId_seq_key` ON `AuditEvent`(`workspaceId`, `seq`);

-- CreateTable
CREATE TABLE `AuditChainHead` (
    `workspaceId` CHAR(36) NOT NULL,
    `seq` INTEGER NOT NULL,
    `hash` CHAR(64) NOT NULL,
    `anchorSeq` INTEGER NOT NULL,
    `anchorPrevHash` CHAR(64) NOT NULL,
    `prunedAt` DATETIME(3) NULL,

    PRIMARY KEY (`workspaceId`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `AuditChainHead` ADD CONSTRAINT `AuditChainHead_workspaceId_fkey` FOREIGN KEY (`workspaceId`) REFERENCES `Workspace`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
