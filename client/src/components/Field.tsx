import type { InputHTMLAttributes } from 'react';

/** A labelled input with its errors beside it, tied to it for screen readers (aria-describedby). */
export function Field({
  id,
  label,
  errors = [],
  ...input
}: { id: string; label: string; errors?: string[] | undefined } & InputHTMLAttributes<HTMLInputElement>) {
  const errorId = `${id}-error`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={id}
        aria-invalid={errors.length > 0 ? true : undefined}
        aria-describedby={errors.length > 0 ? errorId : undefined}
        {...input}
      />
      {errors.length > 0 && (
        <p id={errorId} className="field-error">
          {errors.join('. ')}
        </p>
      )}
    </div>
  );
}

/** Errors tied to no field (or a failure to reach the server). */
export function FormAlert({ messages }: { messages: string[] }) {
  if (messages.length === 0) return null;
  return (
    <div role="alert" className="alert">
      {messages.map((message) => (
        <p key={message}>{message}</p>
      ))}
    </div>
  );
}
