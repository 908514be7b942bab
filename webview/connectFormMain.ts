// The connect form's webview entry (its own bundle, dist/connectForm.js): the one acquireVsCodeApi() call of this
// webview, the form's state kept with setState, and the host's messages.
import type { ConnectFormToHost, ConnectFormToWebview, ConnectFormValue } from '../src/shared/connectFormProtocol';
import { registerUi } from './ui';

interface FormApi {
  postMessage(msg: ConnectFormToHost): void;
  getState(): Partial<ConnectFormValue> | undefined;
  setState(state: Partial<ConnectFormValue>): void;
}
declare function acquireVsCodeApi(): FormApi;
const api = acquireVsCodeApi();

void registerUi().then(async () => {
  const { ConnectForm } = await import('./views/connectForm');
  const post = (m: ConnectFormToHost) => {
    // A Connect or Save also keeps what was typed, should the tab be hidden and shown again.
    if (m.type === 'connect' || m.type === 'save') api.setState(m.form);
    api.postMessage(m);
  };
  const form = new ConnectForm(post);
  document.getElementById('app')?.append(form.el);
  const saved = api.getState();
  if (saved) form.value = saved;
  form.el.addEventListener('input', () => api.setState(form.value));
  window.addEventListener('message', (e: MessageEvent<ConnectFormToWebview>) => {
    const m = e.data;
    if (m.type === 'init' && m.form) form.value = m.form;
    else if (m.type === 'caFile') form.setCaFile(m.path);
    else if (m.type === 'status') form.showStatus(m.ok, m.text);
  });
  post({ type: 'ready' });
  form.focus();
});
