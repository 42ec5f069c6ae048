'use client';

import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { useHydrated } from '@/lib/use-hydrated';
import { send } from '@/lib/api-browser';

export function SignOutButton() {
  const router = useRouter();
  const [busy, setBusy] = useState(false);
  const hydrated = useHydrated();
  const signOut = async (): Promise<void> => {
    setBusy(true);
    await send('POST', '/api/users/signout', {});
    router.push('/');
    router.refresh();
    setBusy(false);
  };
  return (
    <button type="button" className="link-button" disabled={!hydrated || busy} onClick={() => void signOut()}>
      Sign out
    </button>
  );
}
