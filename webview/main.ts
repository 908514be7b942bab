// The inspector webview's entry: the UI components are defined first, then the app builds its views.
import { registerUi } from './ui';

void registerUi().then(() => import('./app'));
