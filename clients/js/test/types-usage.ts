// Compiled by `npm run typecheck` only: the declared types accept real usage and refuse misuse.
import { flush, init, set, track, view, type Tracker } from "../types/index.js";

const tracker: Tracker = init({ endpoint: "https://stats.example.org", key: "pk_x", outbound: false, keepParams: ["utm_*", "page"] });
const id: string | null = track("signup", { plan: "pro", seats: 3, product_info: { price: 12 } });
view("/pricing");
set({ plan: null });
void flush().then(() => tracker.pending() + 1);
window.metronome("track", "x");
void id;

// @ts-expect-error a parameter may not be an array
track("bad", { tags: ["a", "b"] });
// @ts-expect-error unknown option
init({ endpont: "typo" });
