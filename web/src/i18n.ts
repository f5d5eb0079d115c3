// UI labels and the report taxonomy in English, French and Arabic. Free text is shown as written.
export type Lang = "en" | "fr" | "ar";
type Dict = Record<string, string>;

const en: Dict = {
  app: "Fossatum COP", login: "Log in", logout: "Log out", username: "Username", password: "Password",
  login_failed: "Login failed", shift: "Session lasts one shift",
  last6h: "6 h", last24h: "24 h", last7d: "7 days", custom: "Custom", from: "From", to: "To", apply: "Apply",
  play: "Play last 24 h", pause: "Pause", playback: "Playback", live: "Live", offline: "Reconnecting…", live_off: "Live feed unavailable",
  search: "Search reports…", filters: "Filters", clear: "Clear", all: "all",
  f_type: "Type", f_layer: "Layer", f_agency: "Agency", f_country: "Country", f_state: "State", f_grade: "Grade", f_impact: "Impact",
  new_report: "New report", triage: "Triage", close: "Close", help: "Keys",
  reports: "reports", shown: "shown", units: "units", sections: "Border sections",
  impact_set_by: "set by {who} at {when}", reason: "Reason",
  visible_to: "visible to: {who}", tlp: "TLP", audience: "Audience",
  observed: "Observed", reported: "Reported", updated: "Updated", location: "Location", uncertainty: "Uncertainty",
  size: "Size", activity: "Activity", unit: "Unit", equipment: "Equipment", time: "Time",
  grade: "Grade", impact: "Impact", reaction: "Reaction", description: "Description", links: "Related reports",
  author: "Author", owner: "Owner", origin: "Origin node", state: "State", version: "Version", versions: "Version history",
  handler: "Handled by", nobody: "nobody", urgent: "URGENT", urgent_flag: "Flag urgent", urgent_clear: "Clear urgent", urgent_note: "Why urgent?",
  claim: "Take it", unclaim: "Give back", validate: "Validate", return: "Return", return_reason: "Reason for returning",
  retract: "Retract", submit: "Submit", save: "File report", cancel: "Cancel",
  pick_point: "Click the map where it was seen, or type MGRS", lat: "Latitude", lon: "Longitude", mgrs: "MGRS",
  scope: "Scope", scope_agency: "my agency only", scope_national: "my country", scope_partners: "named partners", scope_all_partners: "all partners",
  partners: "Partners", none: "—", meters: "m", filed: "Report filed", error: "Error",
  q_new: "New", q_progress: "In progress", q_validated: "Validated", q_returned: "Returned",
  q_empty: "Nothing here", not_available: "Not available on this node yet",
  alert_from: "URGENT from {who}", open: "Open", dismiss: "Dismiss",
  language: "Language", digits: "Digits", digits_latn: "0123", digits_arab: "٠١٢٣",
  ago_s: "{n} s ago", ago_m: "{n} min ago", ago_h: "{n} h ago", ago_d: "{n} d ago",
  unit_kind: "Kind", last_position: "Last position", partner_data: "Partner data from {c}",
  keys_help: "/ search · n new report · t triage · f filters · c field chat · o operations · 1/2/3 6 h/24 h/7 days · p playback · l language · Esc close",
  cursor: "Cursor", sidebar: "Reports in view", no_reports: "No reports in this window",
  field_chat: "Field chat", chat_empty: "No messages from the field", show_on_map: "Show on the map",
  ak_911: "911 EMERGENCY", ak_troops_in_contact: "TROOPS IN CONTACT", ak_ring_the_bell: "RING THE BELL", ak_cancel: "Alert cancelled",
  // issue 12: joint operations, patrols, checkpoints
  operations: "Operations", operation: "Operation", ops_board: "Board", ops_none: "No operation you may see",
  patrols: "Patrols", patrol: "Patrol", patrols_none: "No patrol", checkpoints: "Checkpoints", checkpoint: "Checkpoint", checkpoints_none: "No checkpoint",
  op_new: "New operation", patrol_new: "New patrol",
  cov_layer: "Coverage gaps", cov_hours: "Coverage window", cov_gap: "Not covered", cov_since: "no track since {when}",
  ms_NST: "Not started", ms_IPR: "In progress", ms_PAU: "Paused", ms_COM: "Completed", ms_CANCLD: "Cancelled",
  ms_to_IPR: "Start", ms_to_PAU: "Pause", ms_to_COM: "Complete", ms_to_CANCLD: "Cancel the operation", pa_cancel: "Cancel the patrol",
  phase_now: "Phase", phase_next: "Next phase", phase_done: "Last phase", phase_none: "No phase", phase_default: "Cordon",
  op_kind: "Kind", op_phase: "Phase", op_lead: "Lead country", op_participants: "Participating countries", op_command: "Command",
  op_sectors: "Sectors", op_sector: "Sector", op_units: "Units", planned: "Planned", actual: "Actual",
  journal: "Journal", journal_empty: "No entry yet", jk_kind: "Entry kind", jk_note: "Note", jk_decision: "Decision", jk_report_link: "Report link",
  jk_status_change: "Status change", jk_assignment: "Assignment", journal_placeholder: "Write in the journal…", journal_report: "Report id",
  journal_write: "Write",
  cp_open: "Open", cp_closed: "Closed", cp_reinforced: "Reinforced", cp_operator: "Operated by", cp_joint: "Joint", cp_section: "Border section",
  cp_history: "History", cp_reason: "Reason (required to close or reinforce)", cp_set: "Set status", cp_change: "Change the status",
  patrol_schedule: "Schedule", patrol_countries: "Countries", patrol_route: "Route", patrol_progress: "Rendezvous", patrol_tracks: "Actual tracks (positions)",
  rv_met: "met", rv_missed: "missed", rv_pending: "not yet",
  wp_waypoint: "Waypoint", wp_rendezvous: "Rendezvous", wp_checkpoint: "Checkpoint", wp_kind: "Point kind",
  corners: "corners", remove: "Remove", op_code: "Code", op_name: "Name", op_commander: "Commander (my country)", op_area: "Area",
  op_draw_area: "Draw the area on the map", op_redraw_area: "Redraw the area", op_no_area: "No area drawn yet", op_draw_sector: "Draw a sector",
  cp_new: "New checkpoint", cp_pick: "Pick its point on the map", cp_pick_hint: "Click the map where the checkpoint stands; Esc stops.",
  cp_no_point: "No point picked yet", cp_partners: "Shared with (the operator always is)", cp_create: "Create the checkpoint", cp_created: "Checkpoint created",
  phase_start: "The phase begins now", phase_end: "The phase ends now", op_edit_sectors: "Change the sectors", op_save_sectors: "Save the sectors", op_emsi: "Export EMSI", op_create: "Create the operation", op_created: "Operation created",
  draw_polygon_hint: "Click the map to add corners; click the first corner (or press Enter) to close; Backspace removes the last; Esc stops.",
  draw_line_hint: "Click the map to add points; click the last point again (or press Enter) to end; Backspace removes the last; Esc stops.",
  patrol_draw_route: "Draw the route on the map", patrol_redraw_route: "Redraw the route", patrol_no_route: "No route drawn yet",
  patrol_create: "Create the patrol", patrol_created: "Patrol created",
};

const fr: Dict = {
  app: "Fossatum — COP", login: "Se connecter", logout: "Se déconnecter", username: "Identifiant", password: "Mot de passe",
  login_failed: "Échec de la connexion", shift: "La session dure une vacation",
  last6h: "6 h", last24h: "24 h", last7d: "7 jours", custom: "Personnalisé", from: "Du", to: "Au", apply: "Appliquer",
  play: "Rejouer les dernières 24 h", pause: "Pause", playback: "Relecture", live: "En direct", offline: "Reconnexion…", live_off: "Flux direct indisponible",
  search: "Rechercher des comptes rendus…", filters: "Filtres", clear: "Effacer", all: "tous",
  f_type: "Type", f_layer: "Couche", f_agency: "Service", f_country: "Pays", f_state: "État", f_grade: "Cotation", f_impact: "Impact",
  new_report: "Nouveau compte rendu", triage: "Tri", close: "Fermer", help: "Touches",
  reports: "comptes rendus", shown: "affichés", units: "unités", sections: "Secteurs frontaliers",
  impact_set_by: "fixé par {who} le {when}", reason: "Motif",
  visible_to: "visible par : {who}", tlp: "TLP", audience: "Diffusion",
  observed: "Observé", reported: "Signalé", updated: "Mis à jour", location: "Position", uncertainty: "Incertitude",
  size: "Effectif", activity: "Activité", unit: "Unité", equipment: "Équipement", time: "Heure",
  grade: "Cotation", impact: "Impact", reaction: "Réaction", description: "Description", links: "Comptes rendus liés",
  author: "Auteur", owner: "Propriétaire", origin: "Nœud d'origine", state: "État", version: "Version", versions: "Historique des versions",
  handler: "Pris en charge par", nobody: "personne", urgent: "URGENT", urgent_flag: "Signaler urgent", urgent_clear: "Lever l'urgence", urgent_note: "Pourquoi urgent ?",
  claim: "Prendre en charge", unclaim: "Rendre", validate: "Valider", return: "Renvoyer", return_reason: "Motif du renvoi",
  retract: "Retirer", submit: "Soumettre", save: "Déposer le compte rendu", cancel: "Annuler",
  pick_point: "Cliquez sur la carte au lieu observé, ou saisissez le MGRS", lat: "Latitude", lon: "Longitude", mgrs: "MGRS",
  scope: "Portée", scope_agency: "mon service seulement", scope_national: "mon pays", scope_partners: "partenaires désignés", scope_all_partners: "tous les partenaires",
  partners: "Partenaires", none: "—", meters: "m", filed: "Compte rendu déposé", error: "Erreur",
  q_new: "Nouveaux", q_progress: "En cours", q_validated: "Validés", q_returned: "Renvoyés",
  q_empty: "Rien ici", not_available: "Pas encore disponible sur ce nœud",
  alert_from: "URGENT de {who}", open: "Ouvrir", dismiss: "Masquer",
  language: "Langue", digits: "Chiffres", digits_latn: "0123", digits_arab: "٠١٢٣",
  ago_s: "il y a {n} s", ago_m: "il y a {n} min", ago_h: "il y a {n} h", ago_d: "il y a {n} j",
  unit_kind: "Type", last_position: "Dernière position", partner_data: "Donnée partenaire : {c}",
  keys_help: "/ recherche · n nouveau · t tri · f filtres · c messagerie terrain · o opérations · 1/2/3 6 h/24 h/7 j · p relecture · l langue · Échap fermer",
  cursor: "Curseur", sidebar: "Comptes rendus affichés", no_reports: "Aucun compte rendu dans cette fenêtre",
  field_chat: "Messagerie terrain", chat_empty: "Aucun message du terrain", show_on_map: "Voir sur la carte",
  ak_911: "URGENCE 911", ak_troops_in_contact: "TROUPES AU CONTACT", ak_ring_the_bell: "ALERTE GÉNÉRALE", ak_cancel: "Alerte levée",
  operations: "Opérations", operation: "Opération", ops_board: "Tableau", ops_none: "Aucune opération visible pour vous",
  patrols: "Patrouilles", patrol: "Patrouille", patrols_none: "Aucune patrouille", checkpoints: "Points de contrôle", checkpoint: "Point de contrôle", checkpoints_none: "Aucun point de contrôle",
  op_new: "Nouvelle opération", patrol_new: "Nouvelle patrouille",
  cov_layer: "Zones non couvertes", cov_hours: "Fenêtre de couverture", cov_gap: "Non couvert", cov_since: "aucune trace depuis {when}",
  ms_NST: "Non commencée", ms_IPR: "En cours", ms_PAU: "Suspendue", ms_COM: "Terminée", ms_CANCLD: "Annulée",
  ms_to_IPR: "Lancer", ms_to_PAU: "Suspendre", ms_to_COM: "Terminer", ms_to_CANCLD: "Annuler l'opération", pa_cancel: "Annuler la patrouille",
  phase_now: "Phase", phase_next: "Phase suivante", phase_done: "Dernière phase", phase_none: "Aucune phase", phase_default: "Bouclage",
  op_kind: "Type", op_phase: "Phase", op_lead: "Pays pilote", op_participants: "Pays participants", op_command: "Commandement",
  op_sectors: "Secteurs", op_sector: "Secteur", op_units: "Unités", planned: "Prévu", actual: "Réel",
  journal: "Journal", journal_empty: "Aucune entrée", jk_kind: "Type d'entrée", jk_note: "Note", jk_decision: "Décision", jk_report_link: "Lien vers un compte rendu",
  jk_status_change: "Changement d'état", jk_assignment: "Affectation", journal_placeholder: "Écrire au journal…", journal_report: "Identifiant du compte rendu",
  journal_write: "Inscrire",
  cp_open: "Ouvert", cp_closed: "Fermé", cp_reinforced: "Renforcé", cp_operator: "Tenu par", cp_joint: "Conjoint", cp_section: "Secteur frontalier",
  cp_history: "Historique", cp_reason: "Motif (obligatoire pour fermer ou renforcer)", cp_set: "Appliquer", cp_change: "Changer l'état",
  patrol_schedule: "Horaire", patrol_countries: "Pays", patrol_route: "Itinéraire", patrol_progress: "Points de rencontre", patrol_tracks: "Traces réelles (positions)",
  rv_met: "rencontre faite", rv_missed: "manquée", rv_pending: "pas encore",
  wp_waypoint: "Point de passage", wp_rendezvous: "Point de rencontre", wp_checkpoint: "Point de contrôle", wp_kind: "Type de point",
  corners: "sommets", remove: "Retirer", op_code: "Code", op_name: "Nom", op_commander: "Commandant (mon pays)", op_area: "Zone",
  op_draw_area: "Tracer la zone sur la carte", op_redraw_area: "Retracer la zone", op_no_area: "Aucune zone tracée", op_draw_sector: "Tracer un secteur",
  cp_new: "Nouveau point de contrôle", cp_pick: "Placer le point sur la carte", cp_pick_hint: "Cliquez sur la carte à l'emplacement du point de contrôle ; Échap arrête.",
  cp_no_point: "Aucun point placé", cp_partners: "Partagé avec (le pays qui le tient l'est toujours)", cp_create: "Créer le point de contrôle", cp_created: "Point de contrôle créé",
  phase_start: "La phase commence maintenant", phase_end: "La phase se termine maintenant", op_edit_sectors: "Modifier les secteurs", op_save_sectors: "Enregistrer les secteurs", op_emsi: "Exporter en EMSI", op_create: "Créer l'opération", op_created: "Opération créée",
  draw_polygon_hint: "Cliquez sur la carte pour ajouter des sommets ; cliquez sur le premier (ou Entrée) pour fermer ; Retour arrière retire le dernier ; Échap arrête.",
  draw_line_hint: "Cliquez sur la carte pour ajouter des points ; recliquez sur le dernier (ou Entrée) pour finir ; Retour arrière retire le dernier ; Échap arrête.",
  patrol_draw_route: "Tracer l'itinéraire sur la carte", patrol_redraw_route: "Retracer l'itinéraire", patrol_no_route: "Aucun itinéraire tracé",
  patrol_create: "Créer la patrouille", patrol_created: "Patrouille créée",
};

const ar: Dict = {
  app: "فوساتوم — الصورة العملياتية", login: "تسجيل الدخول", logout: "تسجيل الخروج", username: "اسم المستخدم", password: "كلمة المرور",
  login_failed: "فشل تسجيل الدخول", shift: "تدوم الجلسة مناوبة واحدة",
  last6h: "6 س", last24h: "24 س", last7d: "7 أيام", custom: "مخصص", from: "من", to: "إلى", apply: "تطبيق",
  play: "إعادة عرض آخر 24 ساعة", pause: "إيقاف مؤقت", playback: "إعادة العرض", live: "مباشر", offline: "إعادة الاتصال…", live_off: "البث المباشر غير متاح",
  search: "البحث في البلاغات…", filters: "المرشحات", clear: "مسح", all: "الكل",
  f_type: "النوع", f_layer: "الطبقة", f_agency: "الجهاز", f_country: "البلد", f_state: "الحالة", f_grade: "التقييم", f_impact: "الخطورة",
  new_report: "بلاغ جديد", triage: "الفرز", close: "إغلاق", help: "المفاتيح",
  reports: "بلاغات", shown: "معروضة", units: "وحدات", sections: "قطاعات الحدود",
  impact_set_by: "حدده {who} في {when}", reason: "السبب",
  visible_to: "مرئي لـ: {who}", tlp: "TLP", audience: "الجمهور",
  observed: "وقت الرصد", reported: "وقت الإبلاغ", updated: "آخر تحديث", location: "الموقع", uncertainty: "هامش الخطأ",
  size: "العدد", activity: "النشاط", unit: "الوحدة", equipment: "المعدات", time: "الوقت",
  grade: "التقييم", impact: "الخطورة", reaction: "الإجراء المتخذ", description: "الوصف", links: "بلاغات مرتبطة",
  author: "المحرر", owner: "المالك", origin: "العقدة الأصلية", state: "الحالة", version: "الإصدار", versions: "سجل الإصدارات",
  handler: "يعالجه", nobody: "لا أحد", urgent: "عاجل", urgent_flag: "وسم كعاجل", urgent_clear: "إلغاء العجلة", urgent_note: "لماذا عاجل؟",
  claim: "تولي المعالجة", unclaim: "إرجاع إلى الطابور", validate: "مصادقة", return: "إرجاع", return_reason: "سبب الإرجاع",
  retract: "سحب", submit: "إرسال", save: "إيداع البلاغ", cancel: "إلغاء",
  pick_point: "انقر على الخريطة في مكان الرصد أو أدخل إحداثيات MGRS", lat: "خط العرض", lon: "خط الطول", mgrs: "MGRS",
  scope: "النطاق", scope_agency: "جهازي فقط", scope_national: "بلدي", scope_partners: "شركاء محددون", scope_all_partners: "كل الشركاء",
  partners: "الشركاء", none: "—", meters: "م", filed: "تم إيداع البلاغ", error: "خطأ",
  q_new: "جديد", q_progress: "قيد المعالجة", q_validated: "مصادق عليه", q_returned: "مُرجع",
  q_empty: "لا شيء هنا", not_available: "غير متاح بعد على هذه العقدة",
  alert_from: "عاجل من {who}", open: "فتح", dismiss: "إخفاء",
  language: "اللغة", digits: "الأرقام", digits_latn: "0123", digits_arab: "٠١٢٣",
  ago_s: "منذ {n} ث", ago_m: "منذ {n} د", ago_h: "منذ {n} س", ago_d: "منذ {n} يوم",
  unit_kind: "النوع", last_position: "آخر موقع", partner_data: "بيانات شريك: {c}",
  keys_help: "/ بحث · n بلاغ جديد · t الفرز · f المرشحات · c مراسلات الميدان · o العمليات · 1/2/3 ‏6 س/24 س/7 أيام · p إعادة العرض · l اللغة · Esc إغلاق",
  cursor: "المؤشر", sidebar: "البلاغات المعروضة", no_reports: "لا بلاغات في هذه الفترة",
  field_chat: "مراسلات الميدان", chat_empty: "لا رسائل من الميدان", show_on_map: "إظهار على الخريطة",
  ak_911: "نداء استغاثة 911", ak_troops_in_contact: "اشتباك مع القوات", ak_ring_the_bell: "إنذار عام", ak_cancel: "أُلغي الإنذار",
  operations: "العمليات", operation: "العملية", ops_board: "اللوحة", ops_none: "لا عملية متاحة لك",
  patrols: "الدوريات", patrol: "الدورية", patrols_none: "لا دورية", checkpoints: "نقاط التفتيش", checkpoint: "نقطة التفتيش", checkpoints_none: "لا نقطة تفتيش",
  op_new: "عملية جديدة", patrol_new: "دورية جديدة",
  cov_layer: "ثغرات التغطية", cov_hours: "فترة التغطية", cov_gap: "غير مغطى", cov_since: "لا أثر منذ {when}",
  ms_NST: "لم تبدأ", ms_IPR: "جارية", ms_PAU: "معلقة", ms_COM: "منتهية", ms_CANCLD: "ملغاة",
  ms_to_IPR: "بدء", ms_to_PAU: "تعليق", ms_to_COM: "إنهاء", ms_to_CANCLD: "إلغاء العملية", pa_cancel: "إلغاء الدورية",
  phase_now: "المرحلة", phase_next: "المرحلة التالية", phase_done: "آخر مرحلة", phase_none: "لا مرحلة", phase_default: "التطويق",
  op_kind: "النوع", op_phase: "المرحلة", op_lead: "البلد القائد", op_participants: "البلدان المشاركة", op_command: "القيادة",
  op_sectors: "القطاعات", op_sector: "قطاع", op_units: "الوحدات", planned: "المخطط", actual: "الفعلي",
  journal: "السجل", journal_empty: "لا قيد بعد", jk_kind: "نوع القيد", jk_note: "ملاحظة", jk_decision: "قرار", jk_report_link: "ربط بلاغ",
  jk_status_change: "تغيير الحالة", jk_assignment: "تكليف", journal_placeholder: "اكتب في السجل…", journal_report: "معرف البلاغ",
  journal_write: "تدوين",
  cp_open: "مفتوحة", cp_closed: "مغلقة", cp_reinforced: "معززة", cp_operator: "تديرها", cp_joint: "مشتركة", cp_section: "قطاع الحدود",
  cp_history: "السجل التاريخي", cp_reason: "السبب (إلزامي للإغلاق أو التعزيز)", cp_set: "تطبيق", cp_change: "تغيير الحالة",
  patrol_schedule: "التوقيت", patrol_countries: "البلدان", patrol_route: "المسار", patrol_progress: "نقاط الالتقاء", patrol_tracks: "المسارات الفعلية (المواقع)",
  rv_met: "تم الالتقاء", rv_missed: "فات", rv_pending: "لم يحن بعد",
  wp_waypoint: "نقطة عبور", wp_rendezvous: "نقطة التقاء", wp_checkpoint: "نقطة تفتيش", wp_kind: "نوع النقطة",
  corners: "رؤوس", remove: "حذف", op_code: "الرمز", op_name: "الاسم", op_commander: "القائد (بلدي)", op_area: "المنطقة",
  op_draw_area: "ارسم المنطقة على الخريطة", op_redraw_area: "أعد رسم المنطقة", op_no_area: "لم تُرسم منطقة بعد", op_draw_sector: "ارسم قطاعًا",
  cp_new: "نقطة تفتيش جديدة", cp_pick: "حدد موقعها على الخريطة", cp_pick_hint: "انقر على الخريطة في موقع نقطة التفتيش؛ Esc للتوقف.",
  cp_no_point: "لم يُحدد موقع بعد", cp_partners: "مشتركة مع (البلد المشغل دائمًا)", cp_create: "إنشاء نقطة التفتيش", cp_created: "أُنشئت نقطة التفتيش",
  phase_start: "تبدأ المرحلة الآن", phase_end: "تنتهي المرحلة الآن", op_edit_sectors: "تعديل القطاعات", op_save_sectors: "حفظ القطاعات", op_emsi: "تصدير EMSI", op_create: "إنشاء العملية", op_created: "أُنشئت العملية",
  draw_polygon_hint: "انقر على الخريطة لإضافة الرؤوس؛ انقر على الرأس الأول (أو Enter) للإغلاق؛ Backspace يحذف الأخير؛ Esc للتوقف.",
  draw_line_hint: "انقر على الخريطة لإضافة النقاط؛ انقر على النقطة الأخيرة مرة ثانية (أو Enter) للإنهاء؛ Backspace يحذف الأخيرة؛ Esc للتوقف.",
  patrol_draw_route: "ارسم المسار على الخريطة", patrol_redraw_route: "أعد رسم المسار", patrol_no_route: "لم يُرسم مسار بعد",
  patrol_create: "إنشاء الدورية", patrol_created: "أُنشئت الدورية",
};

const taxonomy: Record<Lang, Dict> = {
  en: {
    armed_group_sighting: "Armed group sighting", armed_group_movement: "Armed group movement", clash: "Clash",
    explosive_device: "Explosive device", attack_on_post: "Attack on a post", smuggling_weapons: "Weapons smuggling",
    smuggling_fuel: "Fuel smuggling", smuggling_drugs: "Drug smuggling", smuggling_goods: "Goods smuggling",
    seizure: "Seizure", arrest: "Arrest", illegal_crossing: "Illegal crossing", suspicious_vehicle: "Suspicious vehicle", other: "Other",
    unauthorised_crossing: "Unauthorised crossing", cross_border_crime: "Cross-border crime", crisis: "Crisis",
    draft: "Draft", submitted: "Submitted", validated: "Validated", returned: "Returned", closed: "Closed", retracted: "Retracted",
    low: "Low", medium: "Medium", high: "High", critical: "Critical",
    patrol: "Patrol", checkpoint: "Checkpoint", observation_post: "Observation post", rapid_intervention: "Rapid-intervention unit", hq: "HQ",
    TUN: "Tunisia", DZA: "Algeria", LBY: "Libya",
    ok_cordon_and_search: "Cordon and search", ok_joint_patrol_campaign: "Joint patrol campaign", ok_checkpoint_surge: "Checkpoint surge", ok_other: "Other operation",
    duty_officer: "duty officer", analyst: "analyst", field: "field team", commander: "commander", admin: "administrator",
  },
  fr: {
    armed_group_sighting: "Observation de groupe armé", armed_group_movement: "Mouvement de groupe armé", clash: "Accrochage",
    explosive_device: "Engin explosif", attack_on_post: "Attaque d'un poste", smuggling_weapons: "Contrebande d'armes",
    smuggling_fuel: "Contrebande de carburant", smuggling_drugs: "Trafic de stupéfiants", smuggling_goods: "Contrebande de marchandises",
    seizure: "Saisie", arrest: "Interpellation", illegal_crossing: "Franchissement illégal", suspicious_vehicle: "Véhicule suspect", other: "Autre",
    unauthorised_crossing: "Franchissement non autorisé", cross_border_crime: "Criminalité transfrontalière", crisis: "Crise",
    draft: "Brouillon", submitted: "Soumis", validated: "Validé", returned: "Renvoyé", closed: "Clos", retracted: "Retiré",
    low: "Faible", medium: "Moyen", high: "Élevé", critical: "Critique",
    patrol: "Patrouille", checkpoint: "Point de contrôle", observation_post: "Poste d'observation", rapid_intervention: "Unité d'intervention rapide", hq: "PC",
    TUN: "Tunisie", DZA: "Algérie", LBY: "Libye",
    ok_cordon_and_search: "Bouclage et fouille", ok_joint_patrol_campaign: "Campagne de patrouilles conjointes", ok_checkpoint_surge: "Renforcement des points de contrôle", ok_other: "Autre opération",
    duty_officer: "officier de permanence", analyst: "analyste", field: "équipe de terrain", commander: "commandant", admin: "administrateur",
  },
  ar: {
    armed_group_sighting: "رصد مجموعة مسلحة", armed_group_movement: "تحرك مجموعة مسلحة", clash: "اشتباك",
    explosive_device: "عبوة ناسفة", attack_on_post: "هجوم على مركز", smuggling_weapons: "تهريب أسلحة",
    smuggling_fuel: "تهريب وقود", smuggling_drugs: "تهريب مخدرات", smuggling_goods: "تهريب سلع",
    seizure: "حجز", arrest: "إيقاف", illegal_crossing: "عبور غير قانوني", suspicious_vehicle: "مركبة مشبوهة", other: "أخرى",
    unauthorised_crossing: "عبور غير مرخص", cross_border_crime: "جريمة عابرة للحدود", crisis: "أزمة",
    draft: "مسودة", submitted: "مُرسل", validated: "مصادق عليه", returned: "مُرجع", closed: "مغلق", retracted: "مسحوب",
    low: "منخفض", medium: "متوسط", high: "مرتفع", critical: "حرج",
    patrol: "دورية", checkpoint: "نقطة تفتيش", observation_post: "مركز مراقبة", rapid_intervention: "وحدة تدخل سريع", hq: "مقر قيادة",
    TUN: "تونس", DZA: "الجزائر", LBY: "ليبيا",
    ok_cordon_and_search: "تطويق وتمشيط", ok_joint_patrol_campaign: "حملة دوريات مشتركة", ok_checkpoint_surge: "تعزيز نقاط التفتيش", ok_other: "عملية أخرى",
    duty_officer: "ضابط مناوب", analyst: "محلل", field: "فريق ميداني", commander: "قائد", admin: "مسؤول النظام",
  },
};

const dicts: Record<Lang, Dict> = { en, fr, ar };
const LANG_KEY = "fossatum.lang";
const DIGITS_KEY = "fossatum.digits";

export let lang: Lang = ((): Lang => {
  const saved = localStorage.getItem(LANG_KEY);
  if (saved === "en" || saved === "fr" || saved === "ar") return saved;
  const nav = (navigator.language || "en").slice(0, 2);
  return nav === "fr" || nav === "ar" ? nav : "en";
})();
export let digits: "latn" | "arab" = localStorage.getItem(DIGITS_KEY) === "arab" ? "arab" : "latn";

const listeners: (() => void)[] = [];
export function onLanguage(f: () => void) { listeners.push(f); }

export function setLang(l: Lang) {
  lang = l;
  localStorage.setItem(LANG_KEY, l);
  applyDocument();
  listeners.forEach((f) => f());
}
export function setDigits(d: "latn" | "arab") {
  digits = d;
  localStorage.setItem(DIGITS_KEY, d);
  listeners.forEach((f) => f());
}
export function applyDocument() {
  document.documentElement.lang = lang;
  document.documentElement.dir = lang === "ar" ? "rtl" : "ltr";
  document.title = t("app");
}

/** A UI label, with {name} placeholders filled in. */
export function t(key: string, vars: Record<string, string | number> = {}): string {
  let s = dicts[lang][key] ?? en[key] ?? key;
  for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, typeof v === "number" ? num(v) : v);
  return s;
}
/** A taxonomy code (type, layer, state, impact, unit kind, country, role) in the current language. */
/** A field alert's kind (a TAK emergency type), or the kind as sent when it has no label. */
export function alertKind(kind: string): string { const k = `ak_${kind}`; const s = t(k); return s === k ? kind : s; }

export function tx(code: string | null | undefined): string {
  if (!code) return "—";
  return taxonomy[lang][code] ?? taxonomy.en[code] ?? code;
}

const ARABIC = "٠١٢٣٤٥٦٧٨٩";
/** Digits as the user prefers them (only Arabic may use Arabic-Indic digits). */
export function digitsOf(s: string): string {
  if (lang !== "ar" || digits !== "arab") return s;
  return s.replace(/[0-9]/g, (d) => ARABIC[Number(d)]);
}
export function num(n: number, fractionDigits?: number): string {
  const s = fractionDigits === undefined ? String(n) : n.toFixed(fractionDigits);
  return digitsOf(s);
}
const two = (n: number) => String(n).padStart(2, "0");
/** Local 24-hour time, with the date when not today. */
export function when(iso: string | null | undefined, withDate = true): string {
  if (!iso) return "—";
  const d = new Date(iso);
  const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
  const today = new Date().toDateString() === d.toDateString();
  const s = withDate && !today ? `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${hm}` : hm;
  return digitsOf(s);
}
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return t("ago_s", { n: s });
  if (s < 3600) return t("ago_m", { n: Math.round(s / 60) });
  if (s < 172800) return t("ago_h", { n: Math.round(s / 3600) });
  return t("ago_d", { n: Math.round(s / 86400) });
}
