// SPDX-License-Identifier: Apache-2.0
// types.js: which generation types the site serves.
//
// GET {api}/types (SetHandler genflow-types) lists every type the server
// mounts, site-defined ones included:
//   {"types":[{"type","base","needs":[…],"cost","fields":[…],"presetsUrl","defaultWait",
//              "maxCount"}]}
// A server without that endpoint (404) gets the five shipped types at
// {api}/<type> with their documented defaults (docs/api.md).

import { api, apiBase, ApiError } from './api.js';

const ALL_FIELDS = ['prompt', 'customPrompt', 'preset', 'sourceImage', 'style', 'quality',
  'aspectRatio', 'parameters'];

const KNOWN = {
  'neo-glitch': {
    cost: 1, needs: ['prompt'],
    about: 'Glitch art from a prompt: channel shifts and scan lines. A photo is optional.',
  },
  'emotion-mask': {
    cost: 2, needs: ['sourceImage'],
    about: 'Turns a photo of a face into a tinted emotion mask.',
  },
  presets: {
    cost: 2, needs: ['preset'],
    about: 'One of this week\u2019s presets, applied to a prompt or a photo.',
  },
  'ghibli-reaction': {
    cost: 2, needs: ['sourceImage'],
    about: 'Turns a photo into a soft, posterised pastel reaction picture.',
  },
  'custom-prompt': {
    cost: 2, needs: ['prompt'],
    about: 'Your prompt as it is, in the style and ratio you choose.',
  },
};

function fieldName(f) {
  return typeof f === 'string' ? f : (f && (f.name || f.field)) || '';
}

function normalise(t) {
  const known = KNOWN[t.type] || {};
  const fields = Array.isArray(t.fields) && t.fields.length ? t.fields.map(fieldName) : ALL_FIELDS;
  const needs = Array.isArray(t.needs) ? t.needs.map(fieldName) : (known.needs || []);
  return {
    type: t.type,
    base: t.base || `${apiBase()}/${t.type}`,
    needs,
    fields,
    cost: Number.isInteger(t.cost) ? t.cost : (known.cost ?? 1),
    // The most pictures one generation may ask for (GenFlowMaxCount).
    maxCount: Number.isInteger(t.maxCount) && t.maxCount >= 1 ? t.maxCount : 1,
    presetsUrl: t.presetsUrl !== undefined ? t.presetsUrl
      : (needs.includes('preset') ? `${t.base || `${apiBase()}/${t.type}`}/presets` : null),
    about: known.about || 'A type defined by this site.',
    siteDefined: !KNOWN[t.type],
  };
}

export function fallbackTypes() {
  return Object.keys(KNOWN).map((type) => normalise({ type, base: `${apiBase()}/${type}` }));
}

/** The types to offer, from discovery or the built-in list; {types, discovered}. */
export async function loadTypes() {
  try {
    const data = await api.types();
    if (data && Array.isArray(data.types) && data.types.length) {
      return { types: data.types.filter((t) => t && t.type).map(normalise), discovered: true };
    }
  } catch (e) {
    // 404/405: a server without discovery. 401 is the caller's business.
    if (!(e instanceof ApiError) || e.status === 401) throw e;
  }
  return { types: fallbackTypes(), discovered: false };
}

/** "neo-glitch" → "Neo glitch". */
export function label(type) {
  const s = type.replace(/[-_]+/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}
