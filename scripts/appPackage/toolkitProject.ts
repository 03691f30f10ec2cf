/**
 * A structural check of the Teams Toolkit project (teamsapp.yml, teamsapp.local.yml), standing in
 * for the toolkit's own YAML schema, which no package on this machine bundles and its CLI only
 * fetches online. What it checks, from the toolkit's published action reference:
 *
 * - the file is valid YAML without duplicate keys, `version` matches the schema comment, and only
 *   the lifecycles provision, deploy and publish appear;
 * - every action is one the toolkit knows, with its required `with` parameters, no unknown ones,
 *   outputs in upper-case environment variable names and secrets in SECRET_* names;
 * - every `${{NAME}}` an action uses — directly or in the files it reads (ARM parameters, the Entra
 *   manifest, the app manifest for `npm run package`) — is available at that step: built in, set in
 *   env/.env.<environment>, yours to set and documented there, or written by an earlier action
 *   (including the Bicep template's outputs);
 * - the files actions point at exist, every ARM parameter is declared in the Bicep template and
 *   every template parameter without a default is given, secure parameters only from SECRET_*.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { placeholderNames } from './placeholders';

type Params = { required: string[]; optional?: string[] };
interface ActionSpec {
  with: Params;
  writes?: Params & { secrets?: string[] };
}

/** The toolkit's actions Kluis may use, with their parameters (aka.ms/teamsfx-actions). */
export const TOOLKIT_ACTIONS: Record<string, ActionSpec> = {
  'aadApp/create': {
    with: { required: ['name', 'generateClientSecret', 'signInAudience'], optional: ['serviceManagementReference', 'clientSecretExpireDays', 'clientSecretDescription'] },
    writes: { required: ['clientId', 'objectId'], optional: ['clientSecret', 'tenantId', 'authority', 'authorityHost'], secrets: ['clientSecret'] },
  },
  'aadApp/update': { with: { required: ['manifestPath', 'outputFilePath'] } },
  'arm/deploy': { with: { required: ['subscriptionId', 'resourceGroupName', 'templates'], optional: ['bicepCliVersion'] } },
  'botAadApp/create': { with: { required: ['name'] }, writes: { required: ['botId', 'botPassword'], secrets: ['botPassword'] } },
  'botFramework/create': { with: { required: ['botId', 'name', 'messagingEndpoint'], optional: ['description', 'iconUrl', 'channels'] } },
  'teamsApp/create': { with: { required: ['name'] }, writes: { required: ['teamsAppId'] } },
  'teamsApp/validateManifest': { with: { required: ['manifestPath'] } },
  'teamsApp/validateAppPackage': { with: { required: ['appPackagePath'] } },
  'teamsApp/zipAppPackage': { with: { required: ['manifestPath', 'outputZipPath', 'outputFolder'] } },
  'teamsApp/update': { with: { required: ['appPackagePath'] } },
  'teamsApp/extendToM365': { with: { required: ['appPackagePath'] }, writes: { required: ['titleId', 'appId'] } },
  'teamsApp/publishAppPackage': { with: { required: ['appPackagePath'] }, writes: { required: ['publishedAppId'] } },
  'cli/runNpmCommand': { with: { required: ['args'], optional: ['workingDirectory'] } },
  'azureAppService/zipDeploy': { with: { required: ['artifactFolder', 'resourceId'], optional: ['workingDirectory', 'ignoreFile', 'dryRun', 'outputZipFile'] } },
  'file/createOrUpdateEnvironmentFile': { with: { required: ['envs', 'target'] } },
};

const LIFECYCLES = ['provision', 'deploy', 'publish'] as const;
const TOP_LEVEL = new Set(['version', 'environmentFolderPath', 'projectId', 'additionalMetadata', ...LIFECYCLES]);
const ACTION_KEYS = new Set(['uses', 'name', 'env', 'with', 'writeToEnvironmentFile']);
const ENV_VAR = /^[A-Z][A-Z0-9_]*$/;
const SECRET_VAR = /^SECRET_[A-Z0-9_]+$/;
/** Set by the toolkit itself, or asked for when empty. */
const BUILT_IN = new Set(['TEAMSFX_ENV', 'AZURE_SUBSCRIPTION_ID', 'AZURE_RESOURCE_GROUP_NAME']);
/** aadApp/update generates this one when it is empty. */
const GENERATED_BY_AAD_UPDATE = 'AAD_APP_ACCESS_AS_USER_PERMISSION_ID';

export interface BicepTemplate {
  params: Map<string, { hasDefault: boolean; secure: boolean }>;
  outputs: string[];
}

/** Parameters (with default and @secure) and outputs of a Bicep file, read line by line. */
export function readBicep(text: string): BicepTemplate {
  const params = new Map<string, { hasDefault: boolean; secure: boolean }>();
  const outputs: string[] = [];
  let decorators: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('@')) {
      decorators.push(line);
      continue;
    }
    const param = /^param\s+(\w+)\s+\w+(\s*=.*)?$/.exec(line);
    if (param) params.set(param[1]!, { hasDefault: !!param[2], secure: decorators.some((d) => d.startsWith('@secure(')) });
    const output = /^output\s+(\w+)\s+\w+\s*=/.exec(line);
    if (output) outputs.push(output[1]!);
    if (line && !line.startsWith('//')) decorators = [];
  }
  return { params, outputs };
}

function keysOf(value: unknown): string[] {
  return value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : [];
}

/** Names written by an action's writeToEnvironmentFile, checked against its spec. */
function checkWrites(at: string, spec: ActionSpec, action: Record<string, unknown>, problems: string[]): string[] {
  const writes = action.writeToEnvironmentFile as Record<string, unknown> | undefined;
  if (!spec.writes) {
    if (writes !== undefined) problems.push(`${at}: ${String(action.uses)} writes nothing to the environment file`);
    return [];
  }
  if (!writes) {
    problems.push(`${at}: writeToEnvironmentFile is required for ${String(action.uses)}`);
    return [];
  }
  const allowed = new Set([...spec.writes.required, ...(spec.writes.optional ?? [])]);
  for (const key of spec.writes.required) if (!(key in writes)) problems.push(`${at}: writeToEnvironmentFile.${key} is required`);
  const names: string[] = [];
  for (const [key, name] of Object.entries(writes)) {
    if (!allowed.has(key)) problems.push(`${at}: writeToEnvironmentFile.${key} is not an output of ${String(action.uses)}`);
    else if (typeof name !== 'string' || !ENV_VAR.test(name)) problems.push(`${at}: writeToEnvironmentFile.${key} must name an upper-case environment variable`);
    else if (spec.writes.secrets?.includes(key) && !SECRET_VAR.test(name)) problems.push(`${at}: writeToEnvironmentFile.${key} is a secret and must be written to a SECRET_* variable (kept in .env.<environment>.user), not ${name}`);
    else names.push(name);
  }
  return names;
}

export interface ToolkitProjectOptions {
  root: string;
  /** teamsapp.yml or teamsapp.local.yml */
  projectFile: string;
  /** The environment whose env/.env.<environment> template the project is checked against. */
  environment: string;
}

export function checkToolkitProject({ root, projectFile, environment }: ToolkitProjectOptions): string[] {
  const problems: string[] = [];
  const text = fs.readFileSync(path.join(root, projectFile), 'utf8');
  const doc = parseDocument(text, { uniqueKeys: true });
  for (const error of [...doc.errors, ...doc.warnings]) problems.push(`${projectFile}: ${error.message.split('\n')[0]}`);
  if (problems.length) return problems;
  const project = doc.toJS() as Record<string, unknown>;

  const version = project.version;
  if (typeof version !== 'string' || !/^v1\.\d+$/.test(version)) problems.push(`${projectFile}: version must be a schema version like v1.8 (got ${JSON.stringify(version ?? null)})`);
  const schemaComment = /yaml-language-server:\s*\$schema=https:\/\/aka\.ms\/teams-toolkit\/(v[\d.]+)\/yaml\.schema\.json/.exec(text);
  if (!schemaComment || schemaComment[1] !== version) problems.push(`${projectFile}: the yaml-language-server schema comment must name the same version as \`version\` (${String(version)})`);
  for (const key of Object.keys(project)) if (!TOP_LEVEL.has(key)) problems.push(`${projectFile}: unknown top-level key "${key}"`);
  if (project.environmentFolderPath !== './env') problems.push(`${projectFile}: environmentFolderPath must be ./env`);
  if (!Array.isArray(project.provision) || !project.provision.length) problems.push(`${projectFile}: provision must list actions`);

  // What is available before the first action: built-ins, values set in the template, and the
  // variables the template documents as yours to set (a key, or a SECRET_* named in a comment).
  const envFile = path.join('env', `.env.${environment}`);
  const envText = fs.readFileSync(path.join(root, envFile), 'utf8');
  const templateKeys = new Set<string>();
  const documentedSecrets = new Set<string>();
  for (const line of envText.split('\n')) {
    const assignment = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (assignment) templateKeys.add(assignment[1]!);
    for (const secret of line.matchAll(/\b(SECRET_[A-Z0-9_]+)\b/g)) if (line.trim().startsWith('#')) documentedSecrets.add(secret[1]!);
  }
  const available = new Set<string>([...BUILT_IN, ...templateKeys, ...documentedSecrets]);
  // Empty template keys that some action writes are not available until that action has run.
  const writtenLater = new Set<string>();
  const lifecycleActions = LIFECYCLES.flatMap((l) => (Array.isArray(project[l]) ? (project[l] as unknown[]) : []));
  for (const action of lifecycleActions) {
    const a = action as Record<string, unknown>;
    for (const name of Object.values((a.writeToEnvironmentFile ?? {}) as Record<string, unknown>)) if (typeof name === 'string') writtenLater.add(name);
    if (a.uses === 'file/createOrUpdateEnvironmentFile') {
      const w = (a.with ?? {}) as Record<string, unknown>;
      if (typeof w.target === 'string' && path.normalize(w.target) === envFile) for (const k of keysOf(w.envs)) writtenLater.add(k);
    }
    if (a.uses === 'arm/deploy') {
      for (const t of (((a.with ?? {}) as Record<string, unknown>).templates ?? []) as Array<Record<string, unknown>>) {
        if (typeof t.path === 'string' && fs.existsSync(path.join(root, t.path))) for (const o of readBicep(fs.readFileSync(path.join(root, t.path), 'utf8')).outputs) writtenLater.add(o);
      }
    }
  }
  const filledInTemplate = new Set<string>();
  for (const line of envText.split('\n')) {
    const assignment = /^([A-Z][A-Z0-9_]*)=(.+)$/.exec(line.trim());
    if (assignment) filledInTemplate.add(assignment[1]!);
  }
  for (const name of writtenLater) if (!filledInTemplate.has(name)) available.delete(name);
  for (const name of writtenLater) {
    if (!SECRET_VAR.test(name) && !templateKeys.has(name)) problems.push(`${envFile} does not list ${name}, which ${projectFile} writes: add it (empty) with a comment on what it is`);
    if (SECRET_VAR.test(name) && !documentedSecrets.has(name)) problems.push(`${envFile} does not mention the secret ${name} (kept in ${envFile}.user), which ${projectFile} writes`);
  }

  const need = (at: string, names: Iterable<string>, source = '') => {
    for (const name of names) {
      if (!available.has(name)) problems.push(`${at}: \${{${name}}}${source} is not available at this step: set it in ${envFile} or write it in an earlier action`);
    }
  };
  const fileMustExist = (at: string, file: unknown, what: string): string | undefined => {
    if (typeof file !== 'string') {
      problems.push(`${at}: ${what} must be a path`);
      return undefined;
    }
    if (!fs.existsSync(path.join(root, file))) {
      problems.push(`${at}: ${what} ${file} does not exist`);
      return undefined;
    }
    return fs.readFileSync(path.join(root, file), 'utf8');
  };

  for (const lifecycle of LIFECYCLES) {
    const actions = project[lifecycle];
    if (actions === undefined) continue;
    if (!Array.isArray(actions)) {
      problems.push(`${projectFile}: ${lifecycle} must be a list of actions`);
      continue;
    }
    actions.forEach((raw, i) => {
      const at = `${projectFile} ${lifecycle}[${i}]`;
      const action = (raw ?? {}) as Record<string, unknown>;
      const uses = action.uses;
      const spec = typeof uses === 'string' ? TOOLKIT_ACTIONS[uses] : undefined;
      if (!spec) {
        problems.push(`${at}: unknown action ${JSON.stringify(uses ?? null)}`);
        return;
      }
      for (const key of Object.keys(action)) if (!ACTION_KEYS.has(key)) problems.push(`${at}: unknown key "${key}" in ${uses}`);
      const w = (action.with ?? {}) as Record<string, unknown>;
      for (const key of spec.with.required) if (!(key in w)) problems.push(`${at}: ${uses} needs with.${key}`);
      const allowed = new Set([...spec.with.required, ...(spec.with.optional ?? [])]);
      for (const key of Object.keys(w)) if (!allowed.has(key)) problems.push(`${at}: ${uses} has no parameter with.${key}`);

      const used = new Set(placeholderNames(JSON.stringify(action.with ?? {})));
      if (uses === 'aadApp/update') {
        available.add(GENERATED_BY_AAD_UPDATE);
        const manifest = fileMustExist(at, w.manifestPath, 'manifestPath');
        if (manifest) {
          try {
            JSON.parse(manifest);
          } catch {
            problems.push(`${at}: ${String(w.manifestPath)} is not valid JSON`);
          }
          need(at, placeholderNames(manifest), ` (in ${String(w.manifestPath)})`);
        }
      }
      if (uses === 'arm/deploy') {
        const templates = Array.isArray(w.templates) ? (w.templates as Array<Record<string, unknown>>) : [];
        if (!templates.length) problems.push(`${at}: arm/deploy needs at least one template`);
        templates.forEach((t, j) => {
          const tat = `${at} templates[${j}]`;
          for (const key of Object.keys(t)) if (!['path', 'parameters', 'deploymentName'].includes(key)) problems.push(`${tat}: unknown key "${key}"`);
          if (typeof t.deploymentName !== 'string') problems.push(`${tat}: deploymentName is required`);
          const bicepText = fileMustExist(tat, t.path, 'path');
          const parametersText = t.parameters === undefined ? undefined : fileMustExist(tat, t.parameters, 'parameters');
          if (!bicepText) return;
          const bicep = readBicep(bicepText);
          let given: Record<string, { value?: unknown }> = {};
          if (parametersText) {
            try {
              given = (JSON.parse(parametersText) as { parameters?: Record<string, { value?: unknown }> }).parameters ?? {};
            } catch {
              problems.push(`${tat}: ${String(t.parameters)} is not valid JSON`);
            }
            need(tat, placeholderNames(parametersText), ` (in ${String(t.parameters)})`);
          }
          for (const [name, value] of Object.entries(given)) {
            const param = bicep.params.get(name);
            if (!param) problems.push(`${tat}: ${String(t.parameters)} gives "${name}", which ${String(t.path)} does not declare`);
            else if (param.secure && !/^\$\{\{SECRET_[A-Z0-9_]+\}\}$/.test(String(value.value))) problems.push(`${tat}: the secure parameter "${name}" must come from one SECRET_* variable, not ${JSON.stringify(value.value)}`);
          }
          for (const [name, param] of bicep.params) if (!param.hasDefault && !(name in given)) problems.push(`${tat}: ${String(t.path)} needs the parameter "${name}", which ${String(t.parameters ?? 'no parameters file')} does not give`);
          for (const output of bicep.outputs) if (!ENV_VAR.test(output)) problems.push(`${tat}: output ${output} must be an upper-case environment variable name`);
        });
      }
      if (uses === 'cli/runNpmCommand' && typeof w.args === 'string' && /^run package\b/.test(w.args)) {
        const manifest = fileMustExist(at, 'appPackage/manifest.json', 'the app manifest');
        if (manifest) need(at, placeholderNames(manifest), ' (in appPackage/manifest.json)');
      }
      for (const key of ['manifestPath'] as const) if (uses !== 'aadApp/update' && key in w) fileMustExist(at, w[key], key);
      if (uses === 'azureAppService/zipDeploy' && w.ignoreFile !== undefined) fileMustExist(at, w.ignoreFile, 'ignoreFile');
      for (const key of ['appPackagePath', 'outputFilePath'] as const) {
        if (typeof w[key] === 'string' && !String(w[key]).startsWith('./appPackage/build/')) problems.push(`${at}: ${key} must be under ./appPackage/build/, where npm run package and the toolkit write (got ${String(w[key])})`);
      }
      need(at, used);

      for (const name of checkWrites(at, spec, action, problems)) available.add(name);
      if (uses === 'file/createOrUpdateEnvironmentFile' && typeof w.target === 'string' && path.normalize(w.target) === envFile) for (const k of keysOf(w.envs)) available.add(k);
      if (uses === 'arm/deploy') {
        for (const t of (w.templates ?? []) as Array<Record<string, unknown>>) {
          if (typeof t.path === 'string' && fs.existsSync(path.join(root, t.path))) for (const o of readBicep(fs.readFileSync(path.join(root, t.path), 'utf8')).outputs) available.add(o);
        }
      }
    });
  }
  return problems;
}

/** The variables an environment file assigns, and the SECRET_* names its comments document. */
export function environmentVariables(text: string): { keys: string[]; secrets: string[] } {
  const keys: string[] = [];
  const secrets = new Set<string>();
  for (const line of text.split('\n')) {
    const assignment = /^([A-Z][A-Z0-9_]*)=/.exec(line.trim());
    if (assignment) keys.push(assignment[1]!);
    if (line.trim().startsWith('#')) for (const secret of line.matchAll(/\b(SECRET_[A-Z0-9_]+)\b/g)) secrets.add(secret[1]!);
  }
  return { keys: keys.sort(), secrets: [...secrets].sort() };
}

/**
 * Environments of one project differ only in values: every env/.env.<environment> names the same
 * variables and documents the same secrets as the first one.
 */
export function checkEnvironmentFiles(root: string, environments: string[]): string[] {
  const problems: string[] = [];
  const [first, ...others] = environments.map((e) => ({ file: path.join('env', `.env.${e}`), ...environmentVariables(fs.readFileSync(path.join(root, 'env', `.env.${e}`), 'utf8')) }));
  if (!first) return problems;
  for (const other of others) {
    for (const [what, a, b] of [['variable', first.keys, other.keys], ['secret', first.secrets, other.secrets]] as const) {
      for (const name of a) if (!b.includes(name)) problems.push(`${other.file} does not name the ${what} ${name}, which ${first.file} names`);
      for (const name of b) if (!a.includes(name)) problems.push(`${other.file} names the ${what} ${name}, which ${first.file} does not`);
    }
  }
  return problems;
}
