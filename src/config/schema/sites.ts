// Settings of sites and routes (src/routing/): which site a Host names, which
// route a path prefix names, each route's upstream pool, cache rules and traffic
// shifting. One structured setting (its shape: ../sites.ts), reachable as YAML,
// as a YAML/JSON string in a flag or STRATA_SITES, or as a file of its own.
// See ./index.ts for how to add a setting.

import { notA, textOf } from '../kinds.js';
import { setting } from '../setting.js';
import { type SiteSpec, sitesKind } from '../sites.js';

export const sites = setting({
  kind: sitesKind(),
  default: [] as SiteSpec[],
  // Applied by a reload: the node builds the new sites' router, carrying unchanged pools over (routing/router.ts).
  live: true,
  flag: 'sites',
  defaultText: 'none: one implicit site, every Host, one route to origin.upstreams',
  example: [
    'sites:                          # see config/multi-site.yaml for every key',
    '  shop:',
    '    hosts: [shop.example.com, "*.shop.example.com"]',
    '    default: true               # a Host no site names lands here (else 421)',
    '    caseInsensitivePaths: true  # default false; true for an origin routing ignoring case (Express, IIS, ASP.NET)',
    '    routes:',
    '      api:',
    '        path: /api/             # longest matching prefix wins',
    '        upstream: { upstreams: [http://10.0.0.5:9000], balancer: least-connections }',
    '        canary: { upstream: http://10.0.0.6:9000, percent: 5, by: cookie, name: strata-canary }',
    '        cache: { ignoreQuery: [utm_source], sortQuery: true, defaultTtlS: 60 }',
    '        guard: { rateLimit: { requestsPerS: 20 } }   # edge rules of its own (same keys as edge)',
    '      static:',
    '        path: /',
  ],
  help:
    'Several sites on one node, chosen by Host (exact or *.wildcard), then by the longest path prefix (case counts unless the site sets caseInsensitivePaths: true); each route names ' +
    'its upstream pool, cache rules, canary and guard (edge rules replacing the node-wide ones of the same kind). A flag or env value is the same structure as YAML or JSON text. ' +
    'Empty: the node serves one site from origin.upstreams, as without sites.',
});

export const sitesFile = setting({
  kind: {
    arg: 'FILE',
    parse: (raw: unknown) => {
      if (raw === null || raw === undefined) return '';
      // One path: a YAML list [a, b] was read as "a,b".
      textOf(raw);
      if (typeof raw !== 'string') throw notA(raw, 'a file path', 'one file path, e.g. sites.yaml');
      return raw.trim();
    },
    format: (s: string) => s,
  },
  default: '',
  // A reload re-reads the file (config/load.ts), whose sites then apply as above.
  live: true,
  flag: 'sites-file',
  defaultText: 'none',
  help:
    'A YAML file holding the sites mapping alone (the value of `sites`), e.g. kept apart for a deploy tool; not together with sites. ' +
    "A relative path in the config file is read from the config file's directory; from a flag or the environment, from the working directory.",
});
