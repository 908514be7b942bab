// `${secret:NAME}` of scenario files: kept in VS Code's SecretStorage, asked for when a run needs one that is not set,
// and handed to the core's masker so that no result, log line or export shows it.
import * as vscode from 'vscode';
import { SecretMasker, type SecretProvider } from '../core/scenarios';
import type { RegisterCommand } from './commands';
import { uiText } from './uiText';

const KEY_PREFIX = 'wsInspector.scenarioSecret.';
const NAME = /^[A-Za-z_][\w.-]*$/;

export class ScenarioSecrets {
  /** Knows every secret value a run or a mock used: exports and logs of the session mask them. */
  readonly masker = new SecretMasker();

  constructor(private readonly storage: vscode.SecretStorage) {}

  async get(name: string): Promise<string | undefined> {
    return this.storage.get(KEY_PREFIX + name);
  }

  async set(name: string, value: string): Promise<void> {
    await this.storage.store(KEY_PREFIX + name, value);
  }

  /** Asks for the value of `name` (a password box); stores and returns it, or undefined when the user cancels. */
  async ask(name: string, why: string): Promise<string | undefined> {
    const value = await vscode.window.showInputBox({
      title: uiText`Scenario secret ${name}`,
      prompt: uiText`${why} It is kept in VS Code's secret storage, never in the file.`,
      password: true,
      ignoreFocusOut: true,
    });
    if (value === undefined) return undefined;
    await this.set(name, value);
    return value;
  }

  /** For RunOptions.secrets: the stored value, or the user's answer when none is stored (`interactive`). */
  provider(interactive: boolean): SecretProvider {
    return async (name) => (await this.get(name)) ?? (interactive ? this.ask(name, 'A scenario uses it and it is not set.') : undefined);
  }
}

export function registerScenarioSecrets(context: vscode.ExtensionContext, command: RegisterCommand): ScenarioSecrets {
  const secrets = new ScenarioSecrets(context.secrets);
  command('wsInspector.setScenarioSecret', async (arg?: unknown) => {
    const name =
      typeof arg === 'string'
        ? arg
        : await vscode.window.showInputBox({
            title: 'Set Scenario Secret',
            prompt: 'The name used as ${secret:NAME} in scenario files',
            validateInput: (v) => (NAME.test(v) ? undefined : 'Letters, digits, _ . - (starting with a letter or _)'),
          });
    if (!name) return false;
    if (!NAME.test(name)) throw new Error('A secret name has letters, digits, _ . - and starts with a letter or _.');
    return (await secrets.ask(name, 'Its value for ${secret:' + name + '}.')) !== undefined;
  });
  return secrets;
}
