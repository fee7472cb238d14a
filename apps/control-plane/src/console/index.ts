export { CONSOLE_PATH, consoleDirectory, registerConsole } from './console-files';
