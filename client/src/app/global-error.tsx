'use client';

import './globals.css';

/**
 * Shown when even the root layout cannot be rendered: its header asks auth for the signed-in user on
 * every page, so an auth service that does not answer lands here rather than on Next's bare
 * "Application error". It replaces the root layout, hence its own <html> and <body>.
 */
export default function GlobalError({ error }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <html lang="en">
      <body>
        <main>
          <div role="alert" className="alert">
            <p>Ticketing is not available right now: a service it needs did not answer.</p>
            {error.digest === undefined ? null : <p className="muted">Reference: {error.digest}</p>}
            <p>
              {/* A full reload, not reset(): the layout's data comes from the server. */}
              <button type="button" className="link-button" onClick={() => window.location.reload()}>
                Try again
              </button>
            </p>
          </div>
        </main>
      </body>
    </html>
  );
}
