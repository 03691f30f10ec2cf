-- Workspace termination: when set, sign-ins are refused and the retention sweeper erases the
-- workspace a configured number of days later (at most 30, the promised deletion period).

-- AlterTable
ALTER TABLE `Workspace` ADD COLUMN `terminatedAt` DATETIME(3) NULL;
