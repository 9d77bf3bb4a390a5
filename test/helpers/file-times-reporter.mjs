// node:test loads a reporter before `--import tsx` applies: this plain module loads the TypeScript
// reporter (file-times-reporter.ts) through tsx's API for `--test-reporter`.
import { tsImport } from 'tsx/esm/api';

const reporter = await tsImport('./file-times-reporter.ts', import.meta.url);
export default reporter.default;
