import { useEffect, useState } from 'react';

/**
 * False until React has hydrated the page. Buttons whose work is done in JavaScript are disabled
 * until then: a click on a server-rendered form before hydration would submit it natively (a GET of
 * the page with the fields in its query string) instead of calling the API.
 */
export function useHydrated(): boolean {
  const [hydrated, setHydrated] = useState(false);
  useEffect(() => setHydrated(true), []);
  return hydrated;
}
