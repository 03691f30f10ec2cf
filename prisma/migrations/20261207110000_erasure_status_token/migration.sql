-- Erasure status token: the SHA-256 of a random token given to the person who asked for their own
-- erasure, so they can read the job's final state after their account is deleted with it.

-- AlterTable
ALTER TABLE `ErasureJob` ADD COLUMN `statusTokenHash` CHAR(64) NULL;
