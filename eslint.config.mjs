import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noVscode = {
  'no-restricted-imports': [
    'error',
    {
      paths: [{ name: 'vscode', message: 'src/core, src/shared and src/cli run without VS Code; only src/extension may import vscode.' }],
    },
  ],
};

const noHtml = [
  { selector: "MemberExpression[property.name=/^(innerHTML|outerHTML)$/]", message: 'Payloads are untrusted: render text, never HTML.' },
  { selector: "CallExpression[callee.property.name='insertAdjacentHTML']", message: 'Payloads are untrusted: render text, never HTML.' },
];

// VS Code's own UI reads markup in text: a notification turns `[label](command:…)` into a link that runs a command, and
// quick picks, tree items and the status bar turn `$(name)` into an icon. A server's status line, a Redis error or a
// launch configuration's name must never get there as is. So in src/extension such text is a literal, or is built
// with uiText`…${x}…` or untrusted(x) (src/extension/uiText.ts), which escape it; anything else fails here.
/** The value at `path` is the extension's own text, or escaped. */
const escaped = (path) =>
  [
    `[${path}.type='Literal']`,
    `[${path}.type='TemplateLiteral'][${path}.expressions.length=0]`,
    `[${path}.type='ConditionalExpression'][${path}.consequent.type='Literal'][${path}.alternate.type='Literal']`,
    `[${path}.type='TaggedTemplateExpression'][${path}.tag.name='uiText']`,
    `[${path}.type='CallExpression'][${path}.callee.name=/^untrusted(Lines)?$/]`,
  ].join(', ');
/** Markdown is never escaped enough (autolinks, HTML): only the extension's own. */
const ownMarkdown = (path) => `[${path}.type='Literal'], [${path}.type='TemplateLiteral'][${path}.expressions.length=0]`;
const NOTIFY = '/^(show(Error|Warning|Information)Message|setStatusBarMessage)$/';
const UI_TEXT = "Text from outside the extension must not reach VS Code's UI as markup: use uiText`…${x}…` or untrusted(x) from ./uiText.";
const uiText = [
  {
    selector: `CallExpression:matches([callee.name=${NOTIFY}], [callee.property.name=${NOTIFY}]):not(${escaped('arguments.0')})`,
    message: UI_TEXT,
  },
  {
    selector: "MemberExpression[object.property.name='window'][property.name=/^show(Error|Warning|Information)Message$/]",
    message: 'Notifications go through ./notify, which logs them and keeps the last ones for the tests.',
  },
  { selector: `NewExpression[callee.property.name='TreeItem']:not(${escaped('arguments.0')})`, message: UI_TEXT },
  {
    selector: `AssignmentExpression:matches([left.property.name=/^(tooltip|description|label)$/], [left.property.name='text'][left.object.property.name=/[iI]tem$/], [left.property.name='text'][left.object.name=/[iI]tem$/]):not(${escaped('right')})`,
    message: UI_TEXT,
  },
  {
    selector: `:matches(CallExpression[callee.property.name=/^(show(QuickPick|InputBox)|withProgress)$/], AssignmentExpression[left.property.name='items'], VariableDeclarator:has(TSQualifiedName[right.name='QuickPickItem'])) Property[key.name=/^(label|description|detail|title|prompt|placeHolder)$/]:not(${escaped('value')})`,
    message: `Quick pick items, input boxes and progress titles: ${UI_TEXT}`,
  },
  { selector: `CallExpression[callee.property.name='appendText']:not(${escaped('arguments.0')})`, message: UI_TEXT },
  {
    selector: `:matches(NewExpression[callee.property.name='MarkdownString'][arguments.length>0], CallExpression[callee.property.name='appendMarkdown']):not(${ownMarkdown('arguments.0')})`,
    message: 'Markdown only of the extension\'s own text: put untrusted text in with appendText(untrusted(x)).',
  },
];

// webview/ is browser code with its own bundle and tsconfig: it imports its own files and src/shared, nothing else
// (no Node, no vscode, no ws, no src/core or src/extension), and the UI toolkit only behind webview/ui/. Relative paths
// leave webview/ with one `../` per folder level, so each depth gets its own pattern.
const WEBVIEW = 'webview/ runs in the browser: it imports only its own files and src/shared.';
const TOOLKIT = 'The UI toolkit is used only behind webview/ui/, so that replacing it touches that folder alone.';
const webviewRules = (depth, toolkit) => ({
  'no-restricted-imports': [
    'error',
    {
      paths: ['vscode', 'ws'].map((name) => ({ name, message: WEBVIEW })),
      patterns: [
        { regex: `^${'\\.\\./'.repeat(depth)}(?!src/shared/)`, message: WEBVIEW },
        { regex: '^(?![./])(?!vscode$|ws$)(?!@vscode/webview-ui-toolkit(/|$))', message: WEBVIEW },
        ...(toolkit ? [] : [{ regex: '^@vscode/webview-ui-toolkit(/|$)', message: TOOLKIT }]),
      ],
    },
  ],
  // import() is not checked by no-restricted-imports: only the webview's own modules, and the toolkit in webview/ui/.
  'no-restricted-syntax': [
    'error',
    ...noHtml,
    {
      selector: `ImportExpression:not([source.value=/^\\.\\x2F[^.]/])${toolkit ? ":not([source.value='@vscode/webview-ui-toolkit'])" : ''}`,
      message: toolkit ? WEBVIEW : `${WEBVIEW} ${TOOLKIT}`,
    },
  ],
  // Kept small: a file under 500 lines, a function under 80.
  'max-lines': ['error', 500],
  'max-lines-per-function': ['error', 80],
});

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.test-runs/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', ...noHtml],
    },
  },
  { files: ['src/extension/**/*.ts'], rules: { 'no-restricted-syntax': ['error', ...noHtml, ...uiText] } },
  { files: ['src/core/**/*.ts', 'src/shared/**/*.ts', 'src/cli/**/*.ts'], rules: noVscode },
  // Kept small, as in webview/: a file under 500 lines, a function under 80.
  { files: ['src/**/*.ts'], rules: { 'max-lines': ['error', 500], 'max-lines-per-function': ['error', 80] } },
  { files: ['webview/*.ts'], rules: webviewRules(1, false) },
  { files: ['webview/*/**/*.ts'], ignores: ['webview/ui/**'], rules: webviewRules(2, false) },
  { files: ['webview/ui/**/*.ts'], rules: webviewRules(2, true) },
  { files: ['**/*.mjs'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
);
