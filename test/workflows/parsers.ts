/**
 * GitHub's workflow parser, loaded through tsx's loader: the package imports its JSON schemas
 * without `with { type: 'json' }`, which Node 20's own ESM loader refuses (vitest leaves
 * node_modules to Node). tsx's loader accepts them, so the parser runs unchanged.
 */
import { tsImport } from 'tsx/esm/api';

type WorkflowParser = typeof import('@actions/workflow-parser');
type ActionParser = typeof import('@actions/workflow-parser/actions/action-parser');

export interface Parsers {
  /** Error messages of GitHub's parser for a workflow file (empty = valid). */
  workflowErrors(name: string, content: string): string[];
  /** Error messages of parseAction for an action.yml (empty = valid). */
  actionErrors(name: string, content: string): string[];
}

export async function loadParsers(): Promise<Parsers> {
  const wp = (await tsImport('@actions/workflow-parser', import.meta.url)) as WorkflowParser;
  const ap = (await tsImport('@actions/workflow-parser/actions/action-parser', import.meta.url)) as ActionParser;
  const trace = new wp.NoOperationTraceWriter();
  return {
    workflowErrors: (name, content) =>
      wp
        .parseWorkflow({ name, content }, trace)
        .context.errors.getErrors()
        .map((e) => e.message),
    actionErrors: (name, content) =>
      ap
        .parseAction({ name, content }, trace)
        .context.errors.getErrors()
        .map((e) => e.message),
  };
}
