// A form generated from a JSON Schema (a task's form, a workflow's input): strings (formats as
// input types), numbers, booleans, enums, nested objects, arrays, required fields. `read()`
// validates in the page; `showErrors` puts the server's errors at their fields.
import {el, button} from "./dom.js";

const FORMATS = {email: "email", uri: "url", url: "url", date: "date", "date-time": "datetime-local", time: "time"};

function typeOf(schema) {
  if (Array.isArray(schema.enum) || "const" in schema) return "enum";
  const type = Array.isArray(schema.type) ? schema.type.find(t => t !== "null") : schema.type;
  if (type) return type;
  if (schema.properties) return "object";
  if (schema.items) return "array";
  return "json";
}

const nullable = schema => Array.isArray(schema.type) && schema.type.includes("null");

/** The controller of one field: {node, read(errors) → value (undefined when empty), errorsAt: Map}. */
function field(schema, path, label, required, errorNodes) {
  schema = schema && typeof schema === "object" ? schema : {};
  const type = typeOf(schema);
  const title = String(schema.title ?? label ?? "value");
  const error = el("div", {class: "field-error", "data-error-for": path});
  errorNodes.set(path, error);
  const help = schema.description ? el("div", {class: "help"}, schema.description) : null;
  const labelNode = el("label", {}, title, required ? el("span", {class: "required", title: "required"}, " *") : null);
  const wrap = (...children) => el("div", {class: "field", "data-path": path, "data-type": type}, ...children);
  const fail = (errors, message) => errors.push({path, message});

  if (type === "object") {
    const props = schema.properties && typeof schema.properties === "object" ? schema.properties : {};
    const needed = new Set(Array.isArray(schema.required) ? schema.required : []);
    const children = Object.entries(props).map(([name, sub]) => [name, field(sub, path ? `${path}/${name}` : name, name, needed.has(name), errorNodes)]);
    const node = el("fieldset", {class: "field object", "data-path": path}, path ? el("legend", {}, title) : null, help,
      children.map(([, c]) => c.node), error);
    if (children.length === 0) return jsonField(schema, path, title, required, errorNodes);
    return {node, read(errors) {
      const value = {}, own = [];
      for (const [name, c] of children) {
        const v = c.read(own);
        if (v !== undefined) value[name] = v;
        else if (needed.has(name)) own.push({path: path ? `${path}/${name}` : name, message: "required"});
      }
      // An optional group left empty is left out, with its required fields.
      if (path && !required && Object.keys(value).length === 0) return undefined;
      errors.push(...own);
      return value;
    }};
  }
  if (type === "array") {
    const items = [];
    const list = el("div", {class: "items"});
    const add = initial => {
      const index = items.length;
      const item = field(schema.items ?? {}, `${path}/${index}`, `${title} ${index + 1}`, true, errorNodes);
      const row = el("div", {class: "item"}, item.node);
      const entry = {item, row};
      row.append(button("Remove", () => { items.splice(items.indexOf(entry), 1); row.remove(); }, {class: "small"}));
      items.push(entry);
      list.append(row);
      if (initial !== undefined) item.set?.(initial);
    };
    for (const v of Array.isArray(schema.default) ? schema.default : []) add(v);
    const node = el("fieldset", {class: "field array", "data-path": path}, el("legend", {}, title, required ? " *" : ""), help, list,
      button("Add", () => add(), {class: "small", "data-add": path}), error);
    return {node, read(errors) {
      const value = items.map(({item}) => item.read(errors)).map(v => v === undefined ? null : v);
      if (typeof schema.minItems === "number" && value.length < schema.minItems) fail(errors, `at least ${schema.minItems} items`);
      if (typeof schema.maxItems === "number" && value.length > schema.maxItems) fail(errors, `at most ${schema.maxItems} items`);
      return value.length === 0 && !required ? undefined : value;
    }};
  }
  if (type === "enum") {
    const choices = Array.isArray(schema.enum) ? schema.enum : [schema.const];
    const select = el("select", {name: path});
    if (!required || choices.length > 1) select.append(el("option", {value: ""}, required ? "— choose —" : "—"));
    choices.forEach((choice, index) => {
      const option = el("option", {}, typeof choice === "string" ? choice : JSON.stringify(choice));
      option.value = String(index);
      select.append(option);
    });
    if ("default" in schema) {
      const index = choices.findIndex(c => JSON.stringify(c) === JSON.stringify(schema.default));
      if (index >= 0) select.value = String(index);
    }
    return {node: wrap(labelNode, help, select, error), read() { return select.value === "" ? undefined : choices[Number(select.value)]; }};
  }
  if (type === "boolean") {
    const box = el("input", {type: "checkbox", name: path});
    box.checked = schema.default === true;
    return {node: wrap(el("label", {class: "check"}, box, " ", title, required ? " *" : ""), help, error), read() { return box.checked; },
      set(v) { box.checked = v === true; }};
  }
  if (type === "integer" || type === "number") {
    const input = el("input", {type: "number", name: path, step: type === "integer" ? (schema.multipleOf ?? 1) : "any",
      min: schema.minimum, max: schema.maximum});
    if (typeof schema.default === "number") input.value = String(schema.default);
    return {node: wrap(labelNode, help, input, error), set(v) { input.value = String(v); }, read(errors) {
      if (input.value.trim() === "") return nullable(schema) && required ? null : undefined;
      const n = Number(input.value);
      if (!isFinite(n)) { fail(errors, "a number is expected"); return undefined; }
      if (type === "integer" && !Number.isInteger(n)) fail(errors, "a whole number is expected");
      if (typeof schema.minimum === "number" && n < schema.minimum) fail(errors, `must be ≥ ${schema.minimum}`);
      if (typeof schema.maximum === "number" && n > schema.maximum) fail(errors, `must be ≤ ${schema.maximum}`);
      if (typeof schema.exclusiveMinimum === "number" && n <= schema.exclusiveMinimum) fail(errors, `must be > ${schema.exclusiveMinimum}`);
      if (typeof schema.exclusiveMaximum === "number" && n >= schema.exclusiveMaximum) fail(errors, `must be < ${schema.exclusiveMaximum}`);
      return n;
    }};
  }
  if (type === "string") {
    const long = (schema.maxLength ?? 0) > 200 || schema.format === "textarea";
    const input = long ? el("textarea", {name: path, rows: 4}) : el("input", {type: FORMATS[schema.format] ?? "text", name: path,
      minlength: schema.minLength, maxlength: schema.maxLength});
    if (typeof schema.default === "string") input.value = schema.default;
    return {node: wrap(labelNode, help, input, error), set(v) { input.value = String(v); }, read(errors) {
      let v = input.value;
      if (v === "") return required && nullable(schema) ? null : undefined;
      if (schema.format === "date-time") { const d = new Date(v); if (!isNaN(d)) v = d.toISOString(); }
      if (schema.format === "time" && /^\d\d:\d\d$/.test(v)) v += ":00";
      if (typeof schema.minLength === "number" && [...v].length < schema.minLength) fail(errors, `at least ${schema.minLength} characters`);
      if (typeof schema.maxLength === "number" && [...v].length > schema.maxLength) fail(errors, `at most ${schema.maxLength} characters`);
      if (typeof schema.pattern === "string") {
        try { if (!new RegExp(schema.pattern, "u").test(v)) fail(errors, `must match ${schema.pattern}`); } catch { /* the server checks it */ }
      }
      if (input.validity && input.validity.typeMismatch) fail(errors, `not a valid ${schema.format}`);
      return v;
    }};
  }
  return jsonField(schema, path, title, required, errorNodes);
}

/** Anything the form cannot show as inputs: JSON text. */
function jsonField(schema, path, title, required, errorNodes) {
  const error = errorNodes.get(path) ?? el("div", {class: "field-error", "data-error-for": path});
  errorNodes.set(path, error);
  const area = el("textarea", {name: path, rows: 3, class: "json", placeholder: "JSON"});
  if ("default" in schema) area.value = JSON.stringify(schema.default, null, 2);
  return {node: el("div", {class: "field", "data-path": path, "data-type": "json"}, el("label", {}, title, required ? " *" : "", " (JSON)"), area, error),
    read(errors) {
      if (area.value.trim() === "") return undefined;
      try { return JSON.parse(area.value); } catch { errors.push({path, message: "not valid JSON"}); return undefined; }
    }};
}

/**
 * The form of `schema`: {node, read() → {value, errors}, showErrors(errors)}. Errors are
 * {path, message}; a path is the field's slash path (`customer/email`), "" for the whole value.
 */
export function schemaForm(schema) {
  const errorNodes = new Map();
  const root = field(schema && typeof schema === "object" ? {type: "object", ...schema} : {type: "object"}, "", "", true, errorNodes);
  const general = errorNodes.get("") ?? el("div", {class: "field-error", "data-error-for": ""});
  const node = el("div", {class: "schema-form"}, root.node);
  if (!errorNodes.has("")) node.append(general);
  const showErrors = errors => {
    for (const e of errorNodes.values()) e.textContent = "";
    for (const e of errors) {
      const target = errorNodes.get(e.path) ?? general;
      target.textContent = (target.textContent ? target.textContent + "; " : "") + (errorNodes.has(e.path) ? "" : (e.path ? e.path + ": " : "")) + e.message;
    }
  };
  return {node, showErrors, read() {
    const errors = [];
    const value = root.read(errors) ?? {};
    showErrors(errors);
    return {value, errors};
  }};
}

/**
 * The server's validation errors (`field/path: message`, `(root): …`) as {path, message}; a
 * missing required property is put at the property.
 */
export function serverErrors(lines) {
  return (Array.isArray(lines) ? lines : []).map(line => {
    const text = String(line);
    const colon = text.indexOf(": ");
    let path = colon < 0 ? "" : text.slice(0, colon);
    const message = colon < 0 ? text : text.slice(colon + 2);
    if (path === "(root)" || path === "data" || path === "input") path = "";
    path = path.replace(/^(data|input)\//, "").replace(/^\$\.?/, "").replace(/^\//, "").replace(/\./g, "/");
    const missing = message.match(/required[^']*'([^']+)'/);
    if (missing) path = path ? `${path}/${missing[1]}` : missing[1];
    return {path, message};
  });
}
