// Fake room data for the harness: a deterministic mix of Chinese and English chat, roles,
// questions, gifts and long messages that wrap.
import type { ChatRow } from '../../../src/components/types';

const NAMES = ['小明', '阿珍', 'Kai', '路人甲', 'night_owl', '星星点灯', 'Mira', '老王', 'pixelcat', '橘子汽水', 'Ravi', '追光者'];
const ZH = [
  '主播好！',
  '哈哈哈哈哈哈',
  '这个画质好清楚',
  '666666',
  '今天播到几点？',
  '第一次来，关注了',
  '前面的别刷屏了',
  '这首歌叫什么名字？',
  '声音有点小，能调大一点吗',
  '从上海来的，大家晚上好',
  '主播能不能讲讲你用的是什么设备，感觉画面特别稳定，而且延迟也很低，我自己推流总是卡',
];
const EN = [
  'hello from Berlin!',
  'gg',
  'what camera is that?',
  'lol',
  'can you do the thing again',
  'first time here, this is great',
  'the audio is perfect now',
  "Is there a replay of yesterday's stream somewhere? I missed the whole second half because of work",
];
const COLORS = ['#ffffff', '#ffffff', '#ffffff', '#ffffff', '#fe0302', '#ffd302', '#00cd00', '#41d4ff', '#ff7204'];
const GIFTS = ['rose', 'heart', 'star', 'cake', 'rocket', 'crown'];

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeChat(startId: number, n: number, seed = 7, at = Date.now()): ChatRow[] {
  const r = rng(seed + startId);
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)];
  const out: ChatRow[] = [];
  for (let i = 0; i < n; i++) {
    const id = startId + i;
    const user = pick(NAMES);
    const x = r();
    const role = x < 0.02 ? 'host' : x < 0.06 ? 'moderator' : x < 0.08 ? 'guest' : 'viewer';
    if (r() < 0.03) {
      out.push({ id, at, user, role: 'viewer', text: '', color: '#ffffff', deleted: false, kind: 'gift', gift: pick(GIFTS), count: 1 + Math.floor(r() * 9), userId: `u-${user}` });
      continue;
    }
    const text = r() < 0.65 ? pick(ZH) : pick(EN);
    out.push({ id, at, user, role, text, color: pick(COLORS), deleted: false, question: /[?？]$/.test(text), userId: `u-${user}` });
  }
  return out;
}
