/**
 * Open-loop sending: message i of a segment is due at segmentStart + i / rate, and its latency is
 * measured from that due time, not from when it actually went out. A server (or a busy client)
 * that falls behind therefore shows up as latency instead of silently lowering the offered load
 * (no coordinated omission). Timers are 1 ms granular, so each tick sends every message now due.
 */
import { nowUs } from "../lib/time.js";
import type { AckReply, BenchClient } from "./client.js";
import { encodeText } from "./payload.js";
import type { LoadPlan } from "./protocol.js";
import type { Recorder } from "./recorder.js";

/** Cap per tick so a badly late agent still answers IPC and pings between bursts. */
const MAX_PER_TICK = 2000;

/**
 * Per process, never reset: a clientId is the project's idempotency key, so one reused by a later
 * plan would be acked with the old message instead of being stored and delivered again.
 */
let seq = 0;

/** In edit plans, the message each (client, room) slot sent first and now edits; kept across plans. */
const editTargets = new Map<string, string>();

export interface SenderOptions {
  plan: LoadPlan;
  clients: readonly BenchClient[];
  recorder: Recorder;
  agentId: number;
  /** Every ok ack, also one that arrives after this plan was replaced. */
  onAcked?: (room: string, id: string) => void;
  onNotConnected: () => void;
}

export class Sender {
  private segment = 0;
  private segmentStartUs: number;
  private inSegment = 0;
  private slot = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: SenderOptions) {
    this.segmentStartUs = options.plan.t0Us;
  }

  start(): void {
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private tick = (): void => {
    if (this.stopped) return;
    const { segments } = this.options.plan;
    const now = nowUs();
    let sent = 0;
    while (this.segment < segments.length && sent < MAX_PER_TICK) {
      const segment = segments[this.segment];
      if (!segment) break;
      const endUs = this.segmentStartUs + segment.durationMs * 1000;
      const dueUs = segment.rate > 0 ? this.segmentStartUs + (this.inSegment * 1e6) / segment.rate : endUs;
      if (dueUs >= endUs) {
        if (now < endUs && segment.rate <= 0) break;
        this.segment++;
        this.segmentStartUs = endUs;
        this.inSegment = 0;
        continue;
      }
      if (dueUs > now) break;
      this.sendOne(dueUs);
      this.inSegment++;
      sent++;
    }
    if (this.segment >= segments.length) return;
    this.timer = setTimeout(this.tick, sent >= MAX_PER_TICK ? 0 : 1);
  };

  private sendOne(schedUs: number): void {
    const { plan, clients, recorder, agentId } = this.options;
    const slot = plan.slots[this.slot++ % plan.slots.length];
    if (!slot) return;
    const client = clients[slot.client];
    if (!client) return;
    if (!client.ready && !client.resend) {
      this.options.onNotConnected();
      return;
    }
    const bucket = Math.floor((schedUs - plan.t0Us) / (plan.bucketMs * 1000));
    const room = slot.room;
    recorder.onSent(bucket, plan.fanout[room] ?? 0);
    const clientId = `bench-${agentId}-${client.index}-${seq++}`;
    const text = encodeText(bucket, schedUs, plan.textBytes);
    const slotKey = `${client.index} ${room}`;
    const target = plan.event === "edit" ? editTargets.get(slotKey) : undefined;
    const onAck = (reply: AckReply) => {
      const latencyUs = nowUs() - schedUs;
      if (reply.ok && typeof reply.data.id === "string") {
        this.options.onAcked?.(room, reply.data.id);
        if (plan.event === "edit" && !editTargets.has(slotKey)) editTargets.set(slotKey, reply.data.id);
      }
      // The recorder now belongs to a later plan (same bucket numbers): a late ack is not its own.
      if (this.stopped) return;
      if (reply.ok) recorder.onAck(bucket, true, latencyUs);
      else recorder.onAck(bucket, false, latencyUs, reply.error.code);
    };
    if (target === undefined) client.sendMessage(room, text, clientId, onAck);
    else client.editMessage(room, target, text, clientId, onAck);
  }
}
