'use client';

import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { useHydrated } from '@/lib/use-hydrated';
import { send, splitErrors } from '@/lib/api-browser';
import type { ApiError } from '@/lib/types';
import { Field, FormAlert } from './Field';

/** Sign up and sign in: the same form, posting to /api/users/signup or /api/users/signin. */
export function AuthForm({ mode }: { mode: 'signup' | 'signin' }) {
  const router = useRouter();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<ApiError[]>([]);
  const [busy, setBusy] = useState(false);
  const hydrated = useHydrated();
  const action = mode === 'signup' ? 'Sign up' : 'Sign in';

  const submit = async (event: FormEvent<HTMLFormElement>): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    const result = await send(`POST`, `/api/users/${mode}`, { email, password });
    if (result.ok) {
      // The session cookie is set: render the header (and everything else) as the signed-in user.
      router.push('/');
      router.refresh();
      return;
    }
    setBusy(false);
    setErrors(result.errors);
  };

  const { byField, general } = splitErrors(errors, ['email', 'password']);
  return (
    <form onSubmit={(event) => void submit(event)} noValidate>
      <h1>{action}</h1>
      <Field
        id="email"
        label="Email"
        type="email"
        autoComplete="email"
        required
        value={email}
        onChange={(e) => setEmail(e.target.value)}
        errors={byField['email']}
      />
      <Field
        id="password"
        label="Password"
        type="password"
        autoComplete={mode === 'signup' ? 'new-password' : 'current-password'}
        required
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        errors={byField['password']}
      />
      <FormAlert messages={general} />
      <button type="submit" disabled={!hydrated || busy}>
        {action}
      </button>
    </form>
  );
}
