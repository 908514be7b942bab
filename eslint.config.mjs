import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noVscode = {
  'no-restricted-imports': [
    'error',
    {
      paths: [{ name: 'vscode', message: 'src/core and src/shared run without VS Code; only src/extension may import vscode.' }],
    },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.test-runs/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[property.name=/^(innerHTML|outerHTML)$/]", message: 'Payloads are untrusted: render text, never HTML.' },
        { selector: "CallExpression[callee.property.name='insertAdjacentHTML']", message: 'Payloads are untrusted: render text, never HTML.' },
      ],
    },
  },
  { files: ['src/core/**/*.ts', 'src/shared/**/*.ts'], rules: noVscode },
  { files: ['**/*.mjs'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
);
