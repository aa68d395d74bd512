// nn.Module: the container that owns parameters, buffers and submodules, and names them the
// way PyTorch's state_dict does, so that weights move between the two unchanged.
//
// Discovery follows the attributes of the module, like torch's __setattr__ bookkeeping:
//  - an own property holding a Module is a child, named by the property;
//  - an own property holding a Tensor marked by `parameter()` is a parameter;
//  - a property named through `registerBuffer()` is a buffer.
// Own properties keep their assignment order (integer-like names such as Sequential's '0',
// '1', ... come first, in numeric order), which gives the same order as torch.

import { Tensor } from '../tensor.js';
import { isFloatingPoint, type DType } from '../dtype.js';
import { sameShape } from '../ops/util.js';
import { bumpVersion } from '../autograd/version.js';

const parameterTensors = new WeakSet<Tensor>();

/**
 * Marks a tensor as a trainable parameter (torch.nn.Parameter). A tensor that is not a leaf
 * requiring grad is replaced by a fresh leaf holding a copy of its values.
 */
export function parameter(t: Tensor, requiresGrad = true): Tensor {
  let p = t;
  if (!t.isLeaf || t.requiresGrad !== requiresGrad) {
    p = new Tensor(t.data.slice(), [...t.shape], requiresGrad, t.dtype);
  }
  parameterTensors.add(p);
  return p;
}

/** torch's spelling: nn.Parameter(t). */
export const Parameter = parameter;

/** True when the tensor was created or registered as a parameter. */
export function isParameter(value: unknown): value is Tensor {
  return value instanceof Tensor && parameterTensors.has(value);
}

export interface LoadStateDictOptions {
  /** When true (the default), missing and unexpected keys are errors. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

type Slots = Record<string, unknown>;

/**
 * Runs before forward with the module and its arguments; returning an array replaces the
 * arguments (torch's forward pre-hook).
 */
export type ForwardPreHook = (module: Module, args: unknown[]) => unknown[] | undefined | void;

/** What registerForwardPreHook returns: remove() unregisters the hook. */
export interface HookHandle {
  remove(): void;
}

export abstract class Module {
  /** True in training mode (Dropout drops, BatchNorm uses batch statistics). */
  training = true;
  readonly #bufferNames = new Set<string>();
  /** Names given to registerParameter: they stay parameters when a new tensor is assigned. */
  readonly #parameterNames = new Set<string>();
  readonly #forwardPreHooks = new Map<symbol, ForwardPreHook>();

  abstract forward(...args: unknown[]): unknown;

  /** Runs forward; `model.call(x)` is the TypeScript spelling of torch's `model(x)`. */
  call<M extends Module>(this: M, ...args: Parameters<M['forward']>): ReturnType<M['forward']> {
    return this.forward(...args) as ReturnType<M['forward']>;
  }

  #slots(): Slots {
    return this as unknown as Slots;
  }

  #checkName(kind: string, name: string): void {
    if (typeof name !== 'string' || name === '' || name.includes('.')) {
      throw new TypeError(
        `${this.constructor.name}.register${kind}: name must be a non-empty string without '.', got ${JSON.stringify(name)}`,
      );
    }
  }

  /** Sets `this[name]` to a parameter (null records an absent optional parameter, like bias=False). */
  registerParameter(name: string, value: Tensor | null): Tensor | null {
    this.#checkName('Parameter', name);
    const p = value === null ? null : parameter(value);
    this.#parameterNames.add(name);
    this.#bufferNames.delete(name);
    this.#slots()[name] = p;
    return p;
  }

  /**
   * Stops treating `name` as a parameter (torch's `del module._parameters[name]`) and returns the
   * tensor it held. With keepAttribute the attribute stays as a plain value (not in
   * parameters() or the state dict) until reassigned; without it the attribute is deleted.
   */
  unregisterParameter(name: string, keepAttribute = false): Tensor | null {
    const slots = this.#slots();
    if (!this.#parameterNames.has(name) && !isParameter(slots[name]))
      throw new Error(`${this.constructor.name}.unregisterParameter: '${name}' is not a parameter`);
    const value = slots[name];
    this.#parameterNames.delete(name);
    if (keepAttribute) slots[name] = value instanceof Tensor ? value.detach() : null;
    else delete slots[name];
    return value instanceof Tensor ? value : null;
  }

  /** Forgets the buffer `name` (torch's `del module._buffers[name]`) and deletes the attribute. */
  unregisterBuffer(name: string): void {
    if (!this.#bufferNames.has(name))
      throw new Error(`${this.constructor.name}.unregisterBuffer: '${name}' is not a buffer`);
    this.#bufferNames.delete(name);
    delete this.#slots()[name];
  }

  /**
   * Runs hook(module, args) before every forward of this module, in registration order (torch's
   * register_forward_pre_hook). forward is wrapped on the instance, so the hook runs however the
   * module is called (call(), a parent's forward, fit()).
   */
  registerForwardPreHook(hook: ForwardPreHook): HookHandle {
    if (typeof hook !== 'function')
      throw new TypeError(`${this.constructor.name}.registerForwardPreHook: hook must be a function`);
    const key = Symbol('forwardPreHook');
    this.#forwardPreHooks.set(key, hook);
    if (!Object.prototype.hasOwnProperty.call(this, 'forward')) {
      const proto = Object.getPrototypeOf(this) as { forward: (this: Module, ...a: unknown[]) => unknown };
      const wrapped = (...args: unknown[]): unknown => {
        for (const h of [...this.#forwardPreHooks.values()]) {
          const r = h(this, args);
          if (Array.isArray(r)) args = r;
        }
        return proto.forward.apply(this, args);
      };
      // not enumerable: own enumerable properties are the module's parameters and children
      Object.defineProperty(this, 'forward', { value: wrapped, writable: true, configurable: true, enumerable: false });
    }
    return {
      remove: () => {
        this.#forwardPreHooks.delete(key);
      },
    };
  }

  /** The registered forward pre-hooks, in order. */
  forwardPreHooks(): ForwardPreHook[] {
    return [...this.#forwardPreHooks.values()];
  }

  /** Sets `this[name]` to a buffer: saved in the state dict, cast by to(), never trained. */
  registerBuffer(name: string, value: Tensor | null): Tensor | null {
    this.#checkName('Buffer', name);
    this.#bufferNames.add(name);
    this.#parameterNames.delete(name);
    this.#slots()[name] = value;
    return value;
  }

  /** Sets `this[name]` to a child module. */
  registerModule(name: string, module: Module): Module {
    this.#checkName('Module', name);
    if (!(module instanceof Module))
      throw new TypeError(`${this.constructor.name}.registerModule: '${name}' is not a Module`);
    this.#slots()[name] = module;
    return module;
  }

  /** This module's own parameters, [name, tensor], in attribute order. */
  #ownParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, value] of Object.entries(this.#slots())) {
      if (this.#bufferNames.has(name) || !(value instanceof Tensor)) continue;
      if (this.#parameterNames.has(name)) parameterTensors.add(value);
      if (isParameter(value)) out.push([name, value]);
    }
    return out;
  }

  #ownBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const name of this.#bufferNames) {
      const value = this.#slots()[name];
      if (value instanceof Tensor) out.push([name, value]);
    }
    return out;
  }

  /** Direct submodules with their attribute names. */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [name, value] of Object.entries(this.#slots())) {
      if (value instanceof Module) out.push([name, value]);
    }
    return out;
  }

  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module and all its descendants, depth first, with dotted names ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const walk = (m: Module, name: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([name, m]);
      for (const [childName, child] of m.namedChildren()) walk(child, name ? `${name}.${childName}` : childName);
    };
    walk(this, prefix);
    return out;
  }

  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** The own tensors (parameters or buffers) of this module and, with recurse, its descendants; shared tensors once. */
  #namedTensors(own: (m: Module) => [string, Tensor][], prefix: string, recurse: boolean): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    const mods: [string, Module][] = recurse ? this.namedModules(prefix) : [[prefix, this]];
    for (const [modName, m] of mods) {
      for (const [name, t] of own(m)) {
        if (seen.has(t)) continue;
        seen.add(t);
        out.push([modName ? `${modName}.${name}` : name, t]);
      }
    }
    return out;
  }

  /** Parameters of this module and its descendants with state_dict names; shared tensors once. */
  namedParameters(prefix = '', recurse = true): [string, Tensor][] {
    return this.#namedTensors((m) => m.#ownParameters(), prefix, recurse);
  }

  parameters(recurse = true): Tensor[] {
    return this.namedParameters('', recurse).map(([, p]) => p);
  }

  namedBuffers(prefix = '', recurse = true): [string, Tensor][] {
    return this.#namedTensors((m) => m.#ownBuffers(), prefix, recurse);
  }

  buffers(recurse = true): Tensor[] {
    return this.namedBuffers('', recurse).map(([, b]) => b);
  }

  /** Calls fn on every descendant and then on this module (torch's Module.apply). */
  apply(fn: (m: Module) => void): this {
    for (const child of this.children()) child.apply(fn);
    fn(this);
    return this;
  }

  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Drops every parameter's gradient (torch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /**
   * Casts parameters and buffers to dtype in place and returns the module. Parameters become
   * new leaf tensors, so build optimizers after calling to() (as torch recommends).
   */
  to(dtype: DType): this {
    // one cast per tensor, so that tied (shared) parameters stay tied
    const casts = new Map<Tensor, Tensor>();
    const cast = (t: Tensor, asParameter: boolean): Tensor => {
      let c = casts.get(t);
      if (c === undefined) {
        c = t.detach().to(dtype); // a new storage: the dtypes differ
        c.requiresGrad = asParameter && t.requiresGrad && isFloatingPoint(dtype);
        if (asParameter) parameterTensors.add(c);
        casts.set(t, c);
      }
      return c;
    };
    for (const m of this.modules()) {
      const slots = m.#slots();
      for (const [name, p] of m.#ownParameters()) if (p.dtype !== dtype) slots[name] = cast(p, true);
      for (const [name, b] of m.#ownBuffers()) if (b.dtype !== dtype) slots[name] = cast(b, false);
    }
    return this;
  }

  /** Sets requiresGrad of every parameter (torch's requires_grad_), e.g. to freeze a model. */
  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad = requiresGrad;
    return this;
  }

  /**
   * Parameters and buffers by their state_dict names, each module's parameters before its
   * buffers, then its children (torch's order). The tensors are detached views of the live ones.
   */
  stateDict(prefix = ''): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [name, t] of this.#stateEntries(prefix)) out[name] = t.detach();
    return out;
  }

  /** Every parameter and buffer by state_dict name; a shared module appears under each name, as in torch. */
  #stateEntries(prefix: string, out: [string, Tensor][] = []): [string, Tensor][] {
    const at = (name: string): string => (prefix ? `${prefix}.${name}` : name);
    for (const [name, p] of this.#ownParameters()) out.push([at(name), p]);
    for (const [name, b] of this.#ownBuffers()) out.push([at(name), b]);
    for (const [name, child] of this.namedChildren()) child.#stateEntries(at(name), out);
    return out;
  }

  /**
   * Copies values from a state dict into the live parameters and buffers, in place (so an
   * optimizer built on them keeps working). A wrongly shaped tensor is always an error; with
   * strict (the default) missing and unexpected keys are too. The Error lists every offending key.
   */
  loadStateDict(stateDict: Record<string, Tensor>, options: LoadStateDictOptions = {}): LoadStateDictResult {
    if (stateDict === null || typeof stateDict !== 'object' || Array.isArray(stateDict))
      throw new TypeError(
        `${this.constructor.name}.loadStateDict: expected a state dict (an object of Tensors by name), got ${stateDict === null ? 'null' : Array.isArray(stateDict) ? 'an array' : typeof stateDict}`,
      );
    const strict = options.strict ?? true;
    const own = new Map<string, Tensor>(this.#stateEntries(''));
    // Own keys only: 'constructor' or '__proto__' must not be found on Object.prototype.
    const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(stateDict, k);
    const missingKeys = [...own.keys()].filter((k) => !has(k));
    const unexpectedKeys = Object.keys(stateDict).filter((k) => !own.has(k));
    const wrongShapes: string[] = [];
    for (const [key, target] of own) {
      const source = has(key) ? stateDict[key] : undefined;
      if (source === undefined) continue;
      if (!(source instanceof Tensor)) {
        wrongShapes.push(`${key}: expected a Tensor, got ${typeof source}`);
      } else if (!sameShape(source.shape, target.shape)) {
        wrongShapes.push(
          `${key}: checkpoint has shape [${source.shape.join(', ')}], the model has [${target.shape.join(', ')}]`,
        );
      }
    }
    const problems: string[] = [];
    if (strict && missingKeys.length > 0) problems.push(`missing keys: ${missingKeys.join(', ')}`);
    if (strict && unexpectedKeys.length > 0) problems.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
    if (wrongShapes.length > 0) problems.push(`wrong shapes: ${wrongShapes.join('; ')}`);
    if (problems.length > 0) {
      throw new Error(`Error loading state dict into ${this.constructor.name}: ${problems.join('; ')}`);
    }
    for (const [key, target] of own) {
      const source = has(key) ? stateDict[key] : undefined;
      // typed-array set converts between float32 and float64
      if (source !== undefined) {
        target.data.set(source.data);
        bumpVersion(target.data);
      }
    }
    return { missingKeys, unexpectedKeys };
  }

  /** One line per module, like torch's repr. */
  toString(): string {
    const children = this.namedChildren();
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (children.length === 0) return `${head})`;
    const lines = children.map(([name, m]) => `  (${name}): ${m.toString().split('\n').join('\n  ')}`);
    return `${head}\n${lines.join('\n')}\n)`;
  }

  /** Layer arguments shown by toString(). */
  extraRepr(): string {
    return '';
  }
}
