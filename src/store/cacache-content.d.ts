// Types for the one internal module of cacache 20 the disk tier uses: where a
// blob with a given integrity lives, so Strata's own writes keep cacache's layout.
declare module 'cacache/lib/content/path.js' {
  function contentPath(cache: string, integrity: string): string;
  export default contentPath;
}
