/** Every instance that is not STOPPED or FAILED, read page by page. */
import { liveInstanceStates } from "../domain/instance-states.js";
import type { InstanceRecord } from "../store/records.js";
import type { InstanceStore } from "../store/stores.js";

export async function listLiveInstances(
  store: InstanceStore,
  pageSize = 1000,
): Promise<InstanceRecord[]> {
  const live: InstanceRecord[] = [];
  let token = "";
  do {
    const page = await store.list({
      where: { state: { in: [...liveInstanceStates] } },
      pageSize,
      pageToken: token,
    });
    live.push(...page.items);
    token = page.nextPageToken;
  } while (token !== "");
  return live;
}
