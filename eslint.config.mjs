// ESLint: the recommended JavaScript and TypeScript rules, plus the house rules that keep the
// dependency direction and the error catalogue honest.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.data/', 'dist/', '.scratch/', 'api/db/generated/', 'coverage/', 'devTools/', 'tab/', 'addin/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-control-regex': 'off',
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly', __dirname: 'readonly', process: 'readonly', console: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Fakes speak third-party wire formats whose bodies are whatever the client sent.
    files: ['tests/**/*.ts', '**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Domain modules know ports only: no web framework, bot SDK or database driver.
    files: ['api/assistant/assistant.ts', 'api/assistant/prompt.ts', 'api/knowledge/knowledge.ts', 'api/knowledge/indexer.ts', 'api/knowledge/folderSource.ts', 'api/knowledge/chunk.ts', 'api/knowledge/relevance.ts', 'api/tenancy/principals.ts', 'api/knowledge/sharepoint/deltaSync.ts', 'api/knowledge/sharepoint/acl.ts', 'api/knowledge/sharepoint/ports.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['express', 'botbuilder*', '@microsoft/*', '@prisma/*', '*/db/*', '@lancedb/*', 'openai', 'mariadb', '@opentelemetry/*'] }],
    },
  },
  {
    // Only api/config.ts reads the environment; scripts and tests pass it on explicitly.
    files: ['api/**/*.ts', 'bot/**/*.ts'],
    ignores: ['api/config.ts', 'api/serve.ts', '**/*.test.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read settings through api/config.ts.' }],
    },
  },
  {
    // Errors come from the catalogue (api/errors.ts): fail(id, detail).
    files: ['api/**/*.ts', 'bot/**/*.ts'],
    ignores: ['**/*.test.ts', 'api/errors.ts'],
    rules: {
      'no-restricted-syntax': ['error', { selector: "ThrowStatement > NewExpression[callee.name='Error']", message: 'Use fail(id, detail) from api/errors.ts.' }],
    },
  },
);
