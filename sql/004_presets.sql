-- SPDX-License-Identifier: Apache-2.0
-- 004: presets (docs/api.md, issue 5). Each preset belongs to a type; every
-- ISO week a deterministic rotation makes GenFlowPresetsPerWeek of a type's
-- enabled presets active (the module computes it from `position`).
-- `prompt` is what {preset} contributes to the final prompt.

CREATE TABLE genflow_presets (
    key          text PRIMARY KEY CHECK (key ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
    type_name    text NOT NULL,
    name         text NOT NULL,
    prompt       text NOT NULL,
    description  text,
    position     integer NOT NULL,
    enabled      boolean NOT NULL DEFAULT true,
    UNIQUE (type_name, position)
);

INSERT INTO genflow_presets (key, type_name, name, prompt, description, position) VALUES
 ('film-noir',       'presets', 'Film noir',        'high-contrast black and white film noir, venetian-blind shadows', 'Moody 1940s crime cinema', 1),
 ('vaporwave',       'presets', 'Vaporwave',        'vaporwave palette, pink and teal gradients, retro 3D grid',          'Nostalgic 90s digital dream', 2),
 ('ukiyo-e',         'presets', 'Ukiyo-e',          'ukiyo-e woodblock print, flat colours, bold outlines',              'Edo-period Japanese print', 3),
 ('pop-art',         'presets', 'Pop art',          'pop art, halftone dots, bold primary colours',                      'Warhol and Lichtenstein', 4),
 ('oil-portrait',    'presets', 'Oil portrait',     'classical oil painting portrait, chiaroscuro lighting',             'Old-master studio portrait', 5),
 ('pixel-art',       'presets', 'Pixel art',        '16-bit pixel art, limited palette, crisp pixels',                   'Retro game sprite look', 6),
 ('watercolor',      'presets', 'Watercolor',       'loose watercolor wash, soft bleeding edges, paper texture',         'Light and airy watercolour', 7),
 ('cyberpunk',       'presets', 'Cyberpunk',        'cyberpunk city at night, neon signs, rain reflections',             'Neon dystopia', 8),
 ('claymation',      'presets', 'Claymation',       'stop-motion clay figure, fingerprints in the clay, studio light',   'Handmade clay animation', 9),
 ('glitch-rgb',      'neo-glitch', 'RGB split',     'RGB channel split, datamosh artefacts',                             'Channels torn apart', 1),
 ('glitch-vhs',      'neo-glitch', 'VHS tracking',  'VHS tracking errors, tape noise, scan lines',                       'Worn-out videotape', 2),
 ('glitch-pixel',    'neo-glitch', 'Pixel sort',    'pixel sorting streaks, corrupted blocks',                           'Sorted pixels', 3),
 ('glitch-crt',      'neo-glitch', 'CRT bloom',     'CRT phosphor bloom, curved screen, chromatic fringe',               'Old monitor glow', 4),
 ('mask-joy',        'emotion-mask', 'Joy',         'a radiant mask of joy, warm golden light',                          'Happiness', 1),
 ('mask-sorrow',     'emotion-mask', 'Sorrow',      'a mask of quiet sorrow, cold blue tones, tears of glass',           'Sadness', 2),
 ('mask-rage',       'emotion-mask', 'Rage',        'a mask of rage, cracked red lacquer, smoke',                        'Anger', 3),
 ('mask-wonder',     'emotion-mask', 'Wonder',      'a mask of wonder, wide eyes, starlight',                            'Awe', 4),
 ('ghibli-meadow',   'ghibli-reaction', 'Meadow',   'sunlit meadow, drifting clouds, gentle wind',                       'A summer afternoon', 1),
 ('ghibli-rain',     'ghibli-reaction', 'Rainy day','soft rain, umbrellas, reflections on cobblestones',                 'Cozy rain', 2),
 ('ghibli-sky',      'ghibli-reaction', 'Sky city', 'floating islands, airships, towering cumulus',                       'Adventure in the sky', 3),
 ('ghibli-forest',   'ghibli-reaction', 'Forest spirit', 'ancient forest, moss, tiny glowing spirits',                   'Mysterious woods', 4),
 ('custom-cinematic','custom-prompt', 'Cinematic',  'cinematic still, anamorphic lens, shallow depth of field',           'Movie frame', 1),
 ('custom-product',  'custom-prompt', 'Product shot','studio product photography, seamless background, softbox light',   'Clean commercial photo', 2),
 ('custom-sketch',   'custom-prompt', 'Sketch',     'graphite pencil sketch, cross-hatching',                            'Hand-drawn sketch', 3),
 ('custom-isometric','custom-prompt', 'Isometric',  'isometric 3D diorama, soft shadows, miniature',                     'Tiny world', 4);
