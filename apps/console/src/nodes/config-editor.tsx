import { useState } from 'preact/hooks';
import { ApiError, seg } from '../api/api-client';
import { useApi } from '../api/api-context';
import type { ModuleSpec, ModuleType, NodeWriteAnswer } from '../api/schema';
import { ConfigField, configFields, configPatch, inputKind } from './config-form';

interface Props {
  nodeId: string;
  /** The node version the form was opened on: the save's If-Match. */
  version: number;
  module: ModuleSpec;
  type?: ModuleType;
  onSaved: (answer: NodeWriteAnswer) => void;
  onReload: () => void;
  onClose: () => void;
  /** Shown until the next save: what the previous save did. */
  notice?: string;
}

const fieldId = (moduleId: string, i: number, part = 'value') => `cfg-${moduleId}-${i}-${part}`;

/**
 * A module's config as a form generated from its type's JSON Schema: one input per schema key
 * (with its type, description and rules), then the other stored keys as free key/value rows.
 * Saving sends only the changed keys (PATCH) with `If-Match` of the version the form was opened
 * on, so a concurrent change is refused (412) instead of silently overwritten.
 */
export function ConfigEditor(props: Props) {
  const api = useApi();
  const [fields, setFields] = useState<ConfigField[]>(() => configFields(props.module, props.type));
  const [status, setStatus] = useState<{ kind: 'error' | 'stale' | 'saved'; text: string } | null>(
    props.notice ? { kind: 'saved', text: props.notice } : null,
  );
  const [busy, setBusy] = useState(false);
  const patch = configPatch(fields);
  const dirty = Object.keys(patch).length > 0;

  const update = (i: number, change: Partial<ConfigField>) =>
    setFields((list) => list.map((f, j) => (j === i ? { ...f, ...change } : f)));

  const save = async (event: Event) => {
    event.preventDefault();
    if (!dirty) return;
    setBusy(true);
    setStatus(null);
    try {
      const answer = await api.request<NodeWriteAnswer>(
        `/nodes/${seg(props.nodeId)}/modules/${seg(props.module.moduleId)}/config`,
        { method: 'PATCH', body: patch, headers: { 'if-match': `"${props.version}"` } },
      );
      props.onSaved(answer);
    } catch (err) {
      if (err instanceof ApiError && err.status === 412)
        setStatus({
          kind: 'stale',
          text: `Someone else changed this node after you opened it (version ${props.version}); reload it and apply your change again. Nothing was saved.`,
        });
      else setStatus({ kind: 'error', text: (err as Error).message });
    } finally {
      setBusy(false);
    }
  };

  const m = props.module.moduleId;
  return (
    <form class="card editor" onSubmit={save} aria-labelledby={`editor-${m}`}>
      <h3 id={`editor-${m}`}>
        Config of {m}{' '}
        <span class="muted">
          ({props.module.type}, editing version {props.version})
        </span>
      </h3>
      {!props.type && (
        <p class="notice">
          No live process registered the type {props.module.type}: every key is a free key/value.
        </p>
      )}
      {fields.map((f, i) => {
        const id = fieldId(m, i);
        const descId = `${id}-desc`;
        if (!f.schema)
          return (
            <div class={`field free ${f.removed ? 'removed' : ''}`} key={i}>
              <label for={fieldId(m, i, 'key')}>Key</label>
              <input
                id={fieldId(m, i, 'key')}
                value={f.key}
                readOnly={!f.added}
                onInput={(e) => update(i, { key: e.currentTarget.value })}
              />
              <label for={id}>Value of {f.key || 'new key'}</label>
              <input
                id={id}
                type={f.secret ? 'password' : 'text'}
                autocomplete="off"
                value={f.value}
                disabled={f.removed}
                placeholder={
                  f.secret && f.stored !== undefined ? 'secret set: type to replace' : ''
                }
                onInput={(e) => update(i, { value: e.currentTarget.value })}
              />
              <button
                type="button"
                class="link"
                onClick={() => update(i, { removed: !f.removed })}
                aria-label={`${f.removed ? 'Keep' : 'Remove'} key ${f.key}`}
              >
                {f.removed ? 'Keep' : 'Remove'}
              </button>
            </div>
          );
        const kind = inputKind(f.schema);
        const described = [
          f.schema.type,
          f.schema.required ? 'required' : 'optional',
          ...f.schema.rules,
          f.schema.default !== undefined ? `default ${String(f.schema.default)}` : '',
        ]
          .filter(Boolean)
          .join(' · ');
        return (
          <div class="field" key={i}>
            <label for={id}>
              {f.key}
              {f.secret && <span class="badge">secret</span>}
            </label>
            {kind === 'boolean' ? (
              <select
                id={id}
                value={f.value}
                aria-describedby={descId}
                onChange={(e) => update(i, { value: e.currentTarget.value })}
              >
                <option value="">(not set)</option>
                <option value="true">true</option>
                <option value="false">false</option>
              </select>
            ) : (
              <input
                id={id}
                type={f.secret ? 'password' : kind === 'number' ? 'number' : 'text'}
                autocomplete={f.secret ? 'new-password' : 'off'}
                value={f.value}
                aria-describedby={descId}
                placeholder={
                  f.secret
                    ? f.stored !== undefined
                      ? 'secret set: leave empty to keep it'
                      : 'not set'
                    : ''
                }
                onInput={(e) => update(i, { value: e.currentTarget.value })}
              />
            )}
            <p class="hint" id={descId}>
              {f.schema.description ? `${f.schema.description} — ` : ''}
              {described}
            </p>
          </div>
        );
      })}
      <div class="actions">
        <button
          type="button"
          onClick={() =>
            setFields((list) => [
              ...list,
              { key: '', secret: false, stored: undefined, value: '', added: true },
            ])
          }
        >
          Add key
        </button>
      </div>
      {status && (
        <div
          class={status.kind === 'saved' ? 'notice' : 'error'}
          role={status.kind === 'saved' ? 'status' : 'alert'}
        >
          <p>{status.text}</p>
          {status.kind === 'stale' && (
            <button type="button" onClick={props.onReload}>
              Reload the node
            </button>
          )}
        </div>
      )}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy || !dirty}>
          {busy ? 'Saving…' : 'Save'}
        </button>
        <button type="button" onClick={props.onClose}>
          Close
        </button>
        {dirty && <span class="muted">Changes: {Object.keys(patch).join(', ')}</span>}
      </div>
    </form>
  );
}
