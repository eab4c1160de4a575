// The Grafana dashboard shipped in the chart (charts/chaperone/dashboards/chaperone.json): loading,
// structural checks, its panel queries, and Grafana's template variables substituted so that the
// PromQL can be sent to Prometheus as Grafana would send it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../lib/project.js';

export const DASHBOARD_FILE = join(PROJECT_ROOT, 'charts', 'chaperone', 'dashboards', 'chaperone.json');

export interface GridPos { h: number; w: number; x: number; y: number }
export interface Target { refId?: unknown; expr?: unknown; datasource?: { type?: string; uid?: string } }
export interface Panel {
  id?: unknown;
  type?: unknown;
  title?: unknown;
  description?: unknown;
  gridPos?: Partial<GridPos>;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
  collapsed?: boolean;
}
export interface Variable { name: string; type: string; query?: unknown; definition?: string; allValue?: string }
export interface Dashboard {
  uid?: unknown;
  title?: unknown;
  schemaVersion?: unknown;
  panels?: Panel[];
  templating?: { list?: Variable[] };
}

/** One query of one panel. */
export interface PanelQuery {
  panelId: number;
  panelTitle: string;
  refId: string;
  expr: string;
}

export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const PANEL_TYPES = new Set(['timeseries', 'stat', 'bargauge', 'gauge', 'table', 'barchart', 'piechart', 'heatmap', 'state-timeline', 'text']);
/** Grafana's own variables, as the test substitutes them. */
export const GRAFANA_GLOBALS: Record<string, string> = { __rate_interval: '5m', __interval: '15s', __range: '1h', __range_s: '3600', __range_ms: '3600000' };

export function loadDashboard(file = DASHBOARD_FILE): Dashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
}

/** Every panel, rows included, with the panels of collapsed rows. */
export function allPanels(d: Dashboard): Panel[] {
  const out: Panel[] = [];
  for (const p of d.panels ?? []) {
    out.push(p);
    for (const inner of p.panels ?? []) out.push(inner);
  }
  return out;
}

export function panelQueries(d: Dashboard): PanelQuery[] {
  return allPanels(d)
    .filter((p) => p.type !== 'row')
    .flatMap((p) => (p.targets ?? []).map((t) => ({ panelId: Number(p.id), panelTitle: String(p.title), refId: String(t.refId), expr: String(t.expr) })));
}

/** `$name`, `${name}`, `${name:format}` and `[[name]]` references (not label_replace's `$1`). */
const VARIABLE_REF = /\$\{(\w+)(?::[\w]+)?\}|\[\[(\w+)(?::[\w]+)?\]\]|\$(\w+)/g;

export function variablesUsed(expr: string): string[] {
  return [...expr.matchAll(VARIABLE_REF)].map((m) => m[1] ?? m[2] ?? m[3]!).filter((name) => !/^\d+$/.test(name));
}

/** Replaces Grafana's variables: the dashboard's with `values` (default: their "All" value), Grafana's own with GRAFANA_GLOBALS. */
export function substitute(expr: string, d: Dashboard, values: Record<string, string> = {}): string {
  const vars = new Map((d.templating?.list ?? []).map((v) => [v.name, values[v.name] ?? v.allValue ?? '.*']));
  return expr.replace(VARIABLE_REF, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    if (/^\d+$/.test(name)) return whole; // a regex back-reference ($1), not a variable
    const value = GRAFANA_GLOBALS[name] ?? vars.get(name);
    if (value === undefined) throw new Error(`unknown variable $${name} in ${expr}`);
    return value;
  });
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** What is wrong with the dashboard as a Grafana dashboard; empty when nothing. */
export function dashboardProblems(d: Dashboard): string[] {
  const problems: string[] = [];
  const problem = (text: string): void => void problems.push(text);
  if (d.uid !== 'chaperone') problem(`uid is ${JSON.stringify(d.uid)}, expected "chaperone"`);
  if (d.title !== 'Chaperone') problem(`title is ${JSON.stringify(d.title)}, expected "Chaperone"`);
  if (!isInt(d.schemaVersion) || d.schemaVersion < 36 || d.schemaVersion > 41) problem(`schemaVersion ${JSON.stringify(d.schemaVersion)} is not 36..41`);
  if (!Array.isArray(d.panels) || d.panels.length === 0) problem('no panels');

  const variables = d.templating?.list ?? [];
  const names = new Set(variables.map((v) => v.name));
  const ds = variables.find((v) => v.name === 'datasource');
  if (!ds || ds.type !== 'datasource' || ds.query !== 'prometheus') problem('no templated datasource variable "datasource" of type prometheus');
  if (names.size !== variables.length) problem('duplicate variable names');
  for (const v of variables.filter((x) => x.type === 'query')) {
    const q = v.query as { query?: string } | string | undefined;
    const text = typeof q === 'string' ? q : q?.query;
    if (!text || !/^label_values\(.+\)$/.test(text)) problem(`variable ${v.name}: query ${JSON.stringify(text)} is not label_values(...)`);
    const vds = (v as unknown as { datasource?: { uid?: string } }).datasource;
    if (vds?.uid !== DATASOURCE.uid) problem(`variable ${v.name}: datasource is not \${datasource}`);
  }

  const ids = new Set<number>();
  const boxes: Array<{ title: string; g: GridPos }> = [];
  for (const p of d.panels ?? []) {
    for (const [panel, nested] of [[p, false], ...(p.panels ?? []).map((inner) => [inner, true] as const)] as Array<[Panel, boolean]>) {
      const name = `panel ${JSON.stringify(panel.title)} (id ${String(panel.id)})`;
      if (!isInt(panel.id) || panel.id < 1) problem(`${name}: id is not a positive integer`);
      else if (ids.has(panel.id)) problem(`${name}: duplicate id`);
      else ids.add(panel.id);
      if (typeof panel.title !== 'string' || !panel.title.trim()) problem(`${name}: no title`);
      if (typeof panel.type !== 'string') problem(`${name}: no type`);
      const g = panel.gridPos ?? {};
      if (!isInt(g.h) || !isInt(g.w) || !isInt(g.x) || !isInt(g.y) || g.h < 1 || g.w < 1 || g.x < 0 || g.y < 0 || g.x + g.w > 24) {
        problem(`${name}: bad gridPos ${JSON.stringify(panel.gridPos)}`);
      } else if (!nested) {
        // (The panels of a collapsed row keep positions for when it opens: not on the grid now.)
        boxes.push({ title: String(panel.title), g: g as GridPos });
      }
      if (panel.type === 'row') {
        if (nested) problem(`${name}: a row inside a row`);
        if (panel.targets?.length) problem(`${name}: a row with targets`);
        if (!p.collapsed && (panel.panels ?? []).length) problem(`${name}: an open row must not hold panels`);
        continue;
      }
      if (typeof panel.type === 'string' && !PANEL_TYPES.has(panel.type)) problem(`${name}: unknown panel type ${panel.type}`);
      if (typeof panel.description !== 'string' || panel.description.trim().length < 20) problem(`${name}: no description`);
      if (panel.datasource?.type !== DATASOURCE.type || panel.datasource?.uid !== DATASOURCE.uid) problem(`${name}: datasource is not the \${datasource} variable`);
      if (!Array.isArray(panel.targets) || panel.targets.length === 0) {
        problem(`${name}: no targets`);
        continue;
      }
      const refIds = new Set<string>();
      for (const t of panel.targets) {
        if (typeof t.refId !== 'string' || !t.refId) problem(`${name}: a target without refId`);
        else if (refIds.has(t.refId)) problem(`${name}: duplicate refId ${t.refId}`);
        else refIds.add(t.refId);
        if (typeof t.expr !== 'string' || !t.expr.trim()) {
          problem(`${name}: target ${String(t.refId)} has no expr`);
          continue;
        }
        if (t.datasource && (t.datasource.type !== DATASOURCE.type || t.datasource.uid !== DATASOURCE.uid)) problem(`${name}: target ${String(t.refId)} datasource is not \${datasource}`);
        for (const v of variablesUsed(t.expr)) {
          if (!names.has(v) && !(v in GRAFANA_GLOBALS)) problem(`${name}: target ${String(t.refId)} uses undefined variable $${v}`);
        }
      }
    }
  }
  // Panels on the grid must not overlap.
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i]!.g;
      const b = boxes[j]!.g;
      if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) problem(`panels ${JSON.stringify(boxes[i]!.title)} and ${JSON.stringify(boxes[j]!.title)} overlap`);
    }
  }
  return problems;
}
