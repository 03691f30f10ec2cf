/** ImageRecords on MySQL through Prisma (table Image): who made each generated picture. */
import type { Database } from '../db/client';
import type { ImageRecords } from './images';

export function createPrismaImageRecords(db: Database): ImageRecords {
  return {
    async add(image) {
      await db.image.create({ data: image });
    },
  };
}
