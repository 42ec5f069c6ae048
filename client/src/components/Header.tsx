import Link from 'next/link';
import { currentUser } from '@/lib/api-server';
import { SignOutButton } from './SignOutButton';

export async function Header() {
  const user = await currentUser();
  return (
    <header className="header">
      <nav aria-label="Main">
        <Link href="/" className="brand">
          Ticketing
        </Link>
        <ul>
          {user === null ? (
            <>
              <li>
                <Link href="/auth/signup">Sign up</Link>
              </li>
              <li>
                <Link href="/auth/signin">Sign in</Link>
              </li>
            </>
          ) : (
            <>
              <li>
                <Link href="/tickets/new">Sell a ticket</Link>
              </li>
              <li>
                <Link href="/orders">My orders</Link>
              </li>
              <li className="user-email">{user.email}</li>
              <li>
                <SignOutButton />
              </li>
            </>
          )}
        </ul>
      </nav>
    </header>
  );
}
