import { useTitle } from "../ui/hooks";

export function NotFoundPage() {
  useTitle("Page not found");
  return (
    <>
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        There is nothing here. <a href="#/">Go to the overview</a>.
      </p>
    </>
  );
}

export function NeedAdmin({ title }: { title: string }) {
  useTitle(title);
  return (
    <>
      <h1 tabIndex={-1}>{title}</h1>
      <p className="notice" role="note">
        You need the admin role to see this page.
      </p>
    </>
  );
}
