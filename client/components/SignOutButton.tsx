'use client';

import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { send } from '@/lib/api-browser';

export function SignOutButton() {
  const router = useRouter();
  const [busy, setBusy] = useState(false);
  const signOut = async (): Promise<void> => {
    setBusy(true);
    await send('POST', '/api/users/signout', {});
    router.push('/');
    router.refresh();
    setBusy(false);
  };
  return (
    <button type="button" className="link-button" disabled={busy} onClick={() => void signOut()}>
      Sign out
    </button>
  );
}
