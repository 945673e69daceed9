import { mount } from 'svelte';
import '../../../src/app.css';
import { i18n, type Locale } from '../../../src/lib/i18n.svelte';
import Gallery from './Gallery.svelte';

// #scene?lang=zh-CN
const [scene, query] = location.hash.slice(1).split('?');
const lang = new URLSearchParams(query ?? '').get('lang');
if (lang === 'en' || lang === 'zh-CN') i18n.set(lang as Locale);
const theme = new URLSearchParams(query ?? '').get('theme');
document.documentElement.dataset.theme = theme === 'light' ? 'light' : 'dark';
document.documentElement.lang = i18n.locale;
mount(Gallery, { target: document.getElementById('app')!, props: { scene: scene || 'chat' } });
