-- A data key wrapped by an Azure Key Vault RSA key is as long as the key's modulus (256 bytes for
-- RSA-2048, 512 for RSA-4096): room for every RSA size Key Vault offers.

-- AlterTable
ALTER TABLE `WorkspaceDataKey` MODIFY `wrappedKey` VARBINARY(1024) NULL;
