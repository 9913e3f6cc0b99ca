// Renders a batch of TeX formulas with MathJax 3 (mathjax-full), driven by pipeline/mathjax.py.
//
//   node tex.mjs <node_modules directory>
//   stdin:  {"format": "svg" | "mathml", "formulas": [{"tex": "...", "display": true}, ...]}
//   stdout: {"results": [{"markup": "...", "error": null | "message"}, ...]}  (same order)
//
// An invalid formula is a result with an error, never a crash; a non-zero exit means the batch failed.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

// Anything MathJax prints must not corrupt the JSON answer on stdout.
console.log = console.info = console.warn = console.debug = console.error;

const nodeModules = process.argv[2];
if (!nodeModules) {
  console.error('usage: node tex.mjs <node_modules directory>');
  process.exit(2);
}
// Explicit paths, so the project's node_modules is used whatever the working directory is.
const require = createRequire(import.meta.url);
const load = (module) => require(path.join(nodeModules, 'mathjax-full', 'js', module));

const { mathjax } = load('mathjax.js');
const { TeX } = load('input/tex.js');
const { SVG } = load('output/svg.js');
const { liteAdaptor } = load('adaptors/liteAdaptor.js');
const { RegisterHTMLHandler } = load('handlers/html.js');
const { AllPackages } = load('input/tex/AllPackages.js');
const { SerializedMmlVisitor } = load('core/MmlTree/SerializedMmlVisitor.js');
const { STATE } = load('core/MathItem.js');

// noerrors/noundefined would turn mistakes into red text instead of errors; html lets content put
// arbitrary attributes and links into the markup (\class, \cssId, \style, \data, \href); bussproofs
// needs an output jax, which MathML has not.
const EXCLUDED = new Set(['noerrors', 'noundefined', 'html', 'bussproofs']);
const PACKAGES = AllPackages.filter((name) => !EXCLUDED.has(name));
// The SVG has no font for CJK, so MathJax emits <text>; make it use the handbook's CJK font.
const CJK_FAMILY = "'Noto Sans SC', sans-serif";

// fontCache 'none': every glyph is an inline <path>, so each SVG stands alone however often it is inlined.
const svgOutput = new SVG({ fontCache: 'none', unknownFamily: CJK_FAMILY });
// Node cannot measure text, so the adaptor guesses a CJK character's advance (default 1 em). MathJax
// draws such text at x_height * em / ex of the math em (0.884 with convert()'s default em 16, ex 8),
// and a CJK glyph is one em wide: use that, or the characters of \text{损失} stand apart.
const adaptor = liteAdaptor({ cjkCharWidth: (svgOutput.font.params.x_height * 16) / 8 });
RegisterHTMLHandler(adaptor);

class FormulaError extends Error {}

// MathJax sets a \tag's label at the right margin through nested <svg>s of width 100%, which
// WeasyPrint does not draw: the whole equation vanishes from the PDF. So for SVG, every labelled
// table row becomes a plain row whose label sits in an extra last column, after a gap.
function labelsAsLastColumn({ data }) {
  const factory = data.nodeFactory;
  data.root.walkTree((table) => {
    if (!table.isKind('mtable') || !table.childNodes.some((row) => row.isKind('mlabeledtr'))) return;
    const cells = (row) => (row.isKind('mlabeledtr') ? row.childNodes.slice(1) : row.childNodes);
    const columns = Math.max(...table.childNodes.map((row) => cells(row).length));
    for (const row of [...table.childNodes]) {
      const label = row.isKind('mlabeledtr') ? row.childNodes[0].childNodes[0].childNodes : [];
      const padding = Array.from({ length: columns - cells(row).length }, () => factory.create('node', 'mtd'));
      const gap = factory.create('node', 'mspace', [], { width: '2em' });
      const labelCell = factory.create('node', 'mtd', [gap, ...label]);
      table.replaceChild(factory.create('node', 'mtr', [...cells(row), ...padding, labelCell]), row);
    }
  });
}

// A fresh input jax per formula: \newcommand and \def must not leak from one formula into the next,
// since every formula is cached on its own.
function newDocument(withOutput) {
  const tex = new TeX({
    packages: PACKAGES,
    formatError: (_jax, err) => {
      throw new FormulaError(err.message.replace(/\n[^]*/, ''));
    },
  });
  if (!withOutput) return mathjax.document('', { InputJax: tex });
  tex.postFilters.add(labelsAsLastColumn);
  return mathjax.document('', { InputJax: tex, OutputJax: svgOutput });
}

function escapeXml(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// Accessible name: the TeX itself, on one line.
function label(tex) {
  return tex.replace(/\s+/g, ' ').trim();
}

// Should MathJax emit ids, they must not collide when formulas are inlined in one page, and must be
// XML names (MathJax's \label ids contain ':').
function localId(prefix, id) {
  return prefix + id.replace(/[^A-Za-z0-9_.-]/g, '-');
}

// MathJax styles a few SVG elements from its stylesheet, which a bare <svg> goes without: apply the
// same rules as attributes. Like CSS, they override presentation attributes already there.
function applyStylesheet(kind, attributes) {
  const classes = (attributes.get('class') || '').split(/\s+/);
  // Table rules and frames (array, \hline, |) would inherit stroke-width 0 and vanish.
  if ((kind === 'line' && attributes.has('data-line')) || (kind === 'rect' && attributes.has('data-frame'))) {
    attributes.set('stroke-width', '70').set('fill', 'none');
  }
  if (classes.includes('mjx-dashed')) attributes.set('stroke-dasharray', '140');
  if (classes.includes('mjx-dotted')) attributes.set('stroke-linecap', 'round').set('stroke-dasharray', '0,140');
}

// liteAdaptor's own serializer leaves '&' and '<' unescaped in attributes, which breaks XHTML.
function serializeSvg(node, idPrefix) {
  const kind = adaptor.kind(node);
  if (kind === '#text') return escapeXml(adaptor.value(node));
  if (kind === '#comment') return '';
  const attributes = new Map(adaptor.allAttributes(node).map(({ name, value }) => [name, String(value)]));
  applyStylesheet(kind, attributes);
  const serialized = [...attributes]
    // data-* only helps MathJax's own menus; focusable is a non-standard IE attribute.
    .filter(([name]) => !name.startsWith('data-') && name !== 'focusable')
    .map(([name, value]) => {
      if (name === 'id') value = localId(idPrefix, value);
      if ((name === 'href' || name === 'xlink:href') && value.startsWith('#')) {
        value = '#' + localId(idPrefix, value.slice(1));
      }
      return ` ${name}="${escapeXml(value)}"`;
    })
    .join('');
  const children = adaptor
    .childNodes(node)
    .map((child) => serializeSvg(child, idPrefix))
    .join('');
  return children ? `<${kind}${serialized}>${children}</${kind}>` : `<${kind}${serialized}/>`;
}

function renderSvg(tex, display) {
  const container = newDocument(true).convert(tex, { display });
  const svg = adaptor.firstChild(container);
  const name = label(tex);
  adaptor.setAttribute(svg, 'role', 'img');
  adaptor.setAttribute(svg, 'aria-label', name);
  const title = adaptor.node('title', {}, [adaptor.text(name)], 'http://www.w3.org/2000/svg');
  adaptor.insert(title, adaptor.firstChild(svg));
  const hash = createHash('sha256').update(`${display ? 'D' : 'I'}${tex}`).digest('hex').slice(0, 10);
  return serializeSvg(svg, `mjx-${hash}-`);
}

class MathMLVisitor extends SerializedMmlVisitor {
  // data-mjx-* attributes (texclass, variant, …) only serve MathJax itself; they are not MathML.
  getDataAttributes(_node) {
    return {};
  }

  // Keep UTF-8 text instead of MathJax's numeric entities: same meaning, readable sources.
  quoteHTML(value) {
    return escapeXml(value);
  }
}

function renderMathML(tex, display) {
  const math = newDocument(false).convert(tex, { display, end: STATE.CONVERT });
  // Ids (from \label) would collide between formulas of one page, and no link can reach them.
  math.walkTree((node) => {
    delete node.attributes.getAllAttributes().id;
  });
  math.attributes.set('alttext', label(tex));
  return new MathMLVisitor().visitTree(math);
}

function render(format, { tex, display }) {
  try {
    const markup = format === 'svg' ? renderSvg(tex, display) : renderMathML(tex, display);
    return { markup, error: null };
  } catch (err) {
    if (err instanceof FormulaError) return { markup: '', error: err.message };
    // A MathJax bug on one odd formula should be reported like a TeX error, not sink the batch.
    return { markup: '', error: `MathJax internal error: ${err && err.message ? err.message : err}` };
  }
}

const request = JSON.parse(readFileSync(0, 'utf8'));
if (request.format !== 'svg' && request.format !== 'mathml') {
  console.error(`unknown format: ${request.format}`);
  process.exit(2);
}
const results = request.formulas.map((formula) => render(request.format, formula));
process.stdout.write(JSON.stringify({ results }));
