// Prisma CLI settings. The datasource URL is read by the application (api/config.ts), not here,
// so `prisma generate` runs without a database.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
