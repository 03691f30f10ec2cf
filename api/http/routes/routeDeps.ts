/** Narrow views of domain modules that routes need (so a route cannot reach more than it uses). */
import type { Workspace } from '../../tenancy/ports';

export interface DirectoryForAuth {
  findById(workspaceId: string): Promise<Workspace | undefined>;
}
