// adapters.js - worker operations on PEFT adapters: load (adapter_model.safetensors +
// adapter_config.json), save, free, and the vocabulary tokens nearest to each virtual token.

import { ErrorCodes, fail } from '../errors.js';
import { toU8 } from '../env.js';

export const ops = {
  loadAdapter(ctx, id, args) {
    const m = ctx.getModel(args.model);
    return ctx.addAdapter(args.model, m.model.loadAdapter(toU8(args.safetensors), args.config));
  },
  saveAdapter(ctx, id, args) {
    const a = ctx.getAdapter(args.adapter);
    const name = args.baseModelName ?? ctx.models.get(a.modelHandle)?.name ?? '';
    const safetensors = a.adapter.saveSafetensors();
    const config = a.adapter.saveConfig(name);
    return { result: { config, safetensors }, transfer: [safetensors.buffer] };
  },
  freeAdapter(ctx, id, args) {
    ctx.freeAdapterNow(args.adapter);
    return true;
  },
  nearest(ctx, id, args) {
    const k = args.k ?? 5;
    if (k < 1) fail(ErrorCodes.SP_ERR_INVALID_ARG, `k must be a positive integer (got ${k})`);
    return ctx.getAdapter(args.adapter).adapter.nearest(k);
  },
};
