import { useEffect, useSyncExternalStore } from "react";
import type { Observable } from "../live/observable";

export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Pulse` : "Pulse";
  }, [title]);
}

export function useObservable<T>(observable: Observable<T>): T {
  return useSyncExternalStore(observable.subscribe, observable.getSnapshot);
}
