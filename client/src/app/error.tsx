'use client';

/** Shown when a page cannot be rendered (the API did not answer as expected). */
export default function ErrorPage({ reset }: { error: Error; reset: () => void }) {
  return (
    <div role="alert" className="alert">
      <p>This page could not be loaded: the service may be starting or unavailable.</p>
      <p>
        <button type="button" className="link-button" onClick={reset}>
          Try again
        </button>
      </p>
    </div>
  );
}
